package webapp

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestJavaScript runs the app's JavaScript unit tests (web/*.test.js) with Node's
// test runner, so the README's one test command covers them too.
func TestJavaScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("QRID_REQUIRE_NODE") == "1" {
			t.Fatal("node is not installed and QRID_REQUIRE_NODE=1")
		}
		t.Skip("SKIPPING the JavaScript unit tests: node is not installed (QRID_REQUIRE_NODE=1 makes this a failure)")
	}
	dir, err := filepath.Abs(filepath.Join("..", "..", "web"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "--test")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test web/ failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
