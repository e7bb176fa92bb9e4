package webapp

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qrid/qrid/provider/dpop"
)

// TestAppDPoPProofVerifies signs a proof with the app's dpop.js under Node's
// WebCrypto and checks that the server's verifier (provider/dpop) accepts it.
func TestAppDPoPProofVerifies(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("QRID_REQUIRE_NODE") == "1" {
			t.Fatal("node is not installed and QRID_REQUIRE_NODE=1")
		}
		t.Skip("SKIPPING the app's DPoP interoperability test: node is not installed (QRID_REQUIRE_NODE=1 makes this a failure)")
	}
	module, err := filepath.Abs(filepath.Join("..", "..", "templates", "static", "app", "dpop.js"))
	if err != nil {
		t.Fatal(err)
	}
	const (
		htu   = "https://id.example.test/api/mobile/v1/qr/scan"
		token = "device-token-0123456789"
	)
	script := `const { makeProof, newKeyPair } = await import(process.argv[1]);
const keyPair = await newKeyPair();
process.stdout.write(await makeProof({ keyPair, method: "POST", htu: process.argv[2], token: process.argv[3] }));`
	out, err := exec.Command(node, "--input-type=module", "-e", script, "file://"+filepath.ToSlash(module), htu, token).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	proof, err := dpop.Verify(strings.TrimSpace(string(out)), dpop.Request{Method: "POST", URL: htu, AccessToken: token, Now: time.Now()})
	if err != nil {
		t.Fatalf("the app's proof is refused: %v", err)
	}
	if proof.Algorithm != "ES256" || proof.Thumbprint == "" {
		t.Errorf("proof %+v", proof)
	}
}
