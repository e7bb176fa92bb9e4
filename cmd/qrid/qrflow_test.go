package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/draw"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qrid/qrid/provider/admin"
	"github.com/qrid/qrid/provider/digest"
	"github.com/qrid/qrid/storage/memory"
)

func TestSeedDemoTerminalClient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	secrets, err := digest.New([]byte(goodSecret), "client-secret")
	if err != nil {
		t.Fatal(err)
	}
	svc := &admin.Service{Store: memory.New(), ClientSecrets: secrets, Dev: true}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	// A database seeded by an earlier qrid, before the terminal client existed:
	// the web client and the user are kept, the terminal client is added.
	if _, err := svc.CreateClient(ctx, admin.ClientMetadata{
		ClientID: demoClientID, ClientName: "kept", RedirectURIs: demoRedirectURIs,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, admin.NewUser{Username: demoUsername, Password: "an earlier password"}); err != nil {
		t.Fatal(err)
	}
	d, err := seedDemo(ctx, svc, logger)
	if err != nil {
		t.Fatalf("seedDemo: %v", err)
	}
	if d.clientSecret != "" || d.password != "" {
		t.Errorf("seeded %+v, want the existing client and user kept", d)
	}
	if c, err := svc.GetClient(ctx, demoClientID); err != nil || c.ClientName != "kept" {
		t.Errorf("demo client = %+v, %v; want the existing one kept", c, err)
	}

	c, err := svc.GetClient(ctx, "demo-cli")
	if err != nil {
		t.Fatalf("demo terminal client: %v", err)
	}
	if c.ClientName != "qrid demo terminal" ||
		!slices.Equal(c.GrantTypes, []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"}) ||
		c.TokenEndpointAuthMethod != "none" || c.FirstParty || len(c.RedirectURIs) != 0 {
		t.Errorf("demo terminal client = %+v", c)
	}

	// Seeding again changes nothing.
	if _, err := seedDemo(ctx, svc, logger); err != nil {
		t.Fatalf("seedDemo on a seeded store: %v", err)
	}
	if again, err := svc.GetClient(ctx, "demo-cli"); err != nil || !slices.Equal(again.GrantTypes, c.GrantTypes) || again.ClientName != c.ClientName {
		t.Errorf("demo terminal client after a second seeding = %+v, %v", again, err)
	}
}

func TestDevBannerTellsHowToTryTheQRSignIn(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	a := &app{stdout: &out}
	cfg := serveConfig{issuer: "http://localhost:8080", adminToken: "adm-tok"}
	a.printDevBanner(cfg, generated{}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8081}, &demoData{})
	for _, want := range []string{
		"client_id=demo-cli",
		"qrid phone login --issuer http://localhost:8080 --username demo\n",
		"qrid login --issuer http://localhost:8080 --client-id demo-cli\n",
		"qrid phone scan <QR text or PNG>",
		"qrid phone scan --user-code CODE",
		"qrid phone approve --match NN",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner does not contain %q:\n%s", want, out.String())
		}
	}
}

// devServer is a running `qrid serve --dev`.
type devServer struct {
	issuer   string
	password string            // the demo user's
	adminEnv map[string]string // QRID_ENDPOINT and QRID_ADMIN_TOKEN from the banner
	stderr   *syncBuffer
}

var (
	bannerIssuerRE   = regexp.MustCompile(`(?m)^  issuer\s+(\S+)$`)
	bannerPasswordRE = regexp.MustCompile(`username=demo password=(\S+)`)
)

// startDevServer runs `qrid serve --dev` with the extra flags in-process until the
// test ends. The issuer must name the public listener (the phone's scan checks the
// QR's URL against it, and qrid login checks the discovery document's issuer), so the
// port is picked before qrid starts; a port taken in between is tried again with
// another.
func startDevServer(t *testing.T, extra ...string) devServer {
	t.Helper()
	for attempt := 1; ; attempt++ {
		s, ok := tryStartDevServer(t, extra)
		if ok {
			return s
		}
		if attempt == 3 {
			t.Fatalf("serve could not listen on a free port three times; last stderr:\n%s", s.stderr.String())
		}
	}
}

// tryStartDevServer returns false when serve could not listen on the picked port.
func tryStartDevServer(t *testing.T, extra []string) (devServer, bool) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	issuer := "http://" + addr

	stdout, stderr := newSyncBuffer(), newSyncBuffer()
	a := &app{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr, lookupEnv: mapEnv(nil)}
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan struct{})
	var code int
	started := false // listening: from then on serve must end cleanly
	go func() {
		defer close(exited)
		code = a.run(ctx, append([]string{"serve", "--dev", "--issuer", issuer, "--addr", addr, "--admin-addr", "127.0.0.1:0"}, extra...))
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exited:
			if started && code != 0 {
				t.Errorf("serve exited with %d after cancellation; stderr:\n%s", code, stderr.String())
			}
		case <-time.After(25 * time.Second):
			t.Errorf("serve did not stop within 25s of cancellation; stderr:\n%s", stderr.String())
		}
	})

	if _, ok := waitOutput(t, stderr, exited, 30*time.Second, "both listening log lines", func(s string) bool {
		return len(listeningRE.FindAllString(s, -1)) == 2
	}); !ok {
		if strings.Contains(stderr.String(), "cannot listen on --addr "+addr) {
			return devServer{stderr: stderr}, false
		}
		t.Fatalf("serve exited with %d before listening; stderr:\n%s", code, stderr.String())
	}
	started = true
	banner, ok := waitOutput(t, stdout, exited, 10*time.Second, "the dev banner", func(s string) bool {
		return exportRE.MatchString(s)
	})
	if !ok {
		t.Fatalf("serve exited with %d before its banner; stderr:\n%s", code, stderr.String())
	}
	if m := bannerIssuerRE.FindStringSubmatch(banner); m == nil || m[1] != issuer {
		t.Fatalf("banner issuer %q, want %s:\n%s", m, issuer, banner)
	}
	pw := bannerPasswordRE.FindStringSubmatch(banner)
	if pw == nil {
		t.Fatalf("no demo password in the banner:\n%s", banner)
	}
	exported := exportRE.FindStringSubmatch(banner)
	return devServer{
		issuer:   issuer,
		password: pw[1],
		adminEnv: map[string]string{"QRID_ENDPOINT": exported[1], "QRID_ADMIN_TOKEN": exported[2]},
		stderr:   stderr,
	}, true
}

// waitOutput waits until match accepts what buf holds, and returns it with true. It
// returns false when exited is closed first (the command writing buf ended), and
// fails the test at the deadline.
func waitOutput(t *testing.T, buf *syncBuffer, exited <-chan struct{}, deadline time.Duration, what string, match func(string) bool) (string, bool) {
	t.Helper()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for {
		buf.mu.Lock()
		s, changed := buf.buf.String(), buf.changed
		buf.mu.Unlock()
		if match(s) {
			return s, true
		}
		select {
		case <-changed:
		case <-exited:
			if s := buf.String(); match(s) {
				return s, true
			}
			return buf.String(), false
		case <-timer.C:
			t.Fatalf("waited %s for %s; output so far:\n%s", deadline, what, s)
		}
	}
}

var (
	loginMatchRE    = regexp.MustCompile(`(?m)^Check that your phone shows (\d{2})$`)
	loginOpenRE     = regexp.MustCompile(`(?m)^Or open (\S+) and enter the code ([A-Z]{4}-[A-Z]{4})$`)
	phoneAccountRE  = regexp.MustCompile(`\(account (\S+)\)`)
	phoneChoicesRE  = regexp.MustCompile(`(?m)^Which number does the other screen show\? (\d{2}) +(\d{2}) +(\d{2})$`)
	terminalQRStart = "Scan this QR code with the qrid app:\n\n"
)

// TestQRSignInEndToEnd signs in with `qrid login` (the terminal relying party) and
// `qrid phone` (the reference mobile app) against a real `qrid serve --dev`: the
// phone scans the QR code that qrid login draws, or the QR image the server serves,
// picks the number qrid login shows, and qrid login ends with a verified ID token of
// the demo user authenticated by QR.
func TestQRSignInEndToEnd(t *testing.T) {
	t.Parallel()
	srv := startDevServer(t)

	// The demo user's ID, from the admin API, to check the ID token's subject.
	r := runQrid(t, srv.adminEnv, "", "users", "list")
	if r.code != 0 {
		t.Fatalf("users list: exit %d\n%s", r.code, r.stderr)
	}
	var users struct {
		Users []struct{ ID, Username string } `json:"users"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &users); err != nil || len(users.Users) != 1 || users.Users[0].Username != "demo" {
		t.Fatalf("users list = %s (%v), want the demo user", r.stdout, err)
	}
	demoID := users.Users[0].ID

	for _, tt := range []struct {
		name string
		// scanArg turns the QR code's text into the argument of qrid phone scan.
		scanArg func(t *testing.T, content string) string
	}{
		{"QR text from the terminal", func(_ *testing.T, content string) string { return content }},
		{"QR image from the server", func(t *testing.T, content string) string {
			return fetchQRImage(t, srv.issuer+"/qr/"+strings.TrimPrefix(content, srv.issuer+"/q/")+".png")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "phone.json")
			phone := func(stdin string, args ...string) result {
				t.Helper()
				return runQrid(t, nil, stdin, append([]string{"phone", "--state", state}, args...)...)
			}

			r := phone(srv.password+"\n", "login", "--issuer", srv.issuer, "--username", "demo")
			if r.code != 0 {
				t.Fatalf("phone login: exit %d\n%s", r.code, r.stderr)
			}
			if m := phoneAccountRE.FindStringSubmatch(r.stdout); m == nil || m[1] != demoID {
				t.Fatalf("phone login printed %q, want the demo user's account %s", r.stdout, demoID)
			}
			// The phone's token is DPoP-bound, so every call below carries a proof.
			if st := readState(t, state); len(st.DPoPKey) == 0 || strings.Contains(r.stderr, "warning") {
				t.Fatalf("phone login did not bind its token to a DPoP key; stderr:\n%s", r.stderr)
			}

			// qrid login runs until the phone has decided.
			stdout, stderr := newSyncBuffer(), newSyncBuffer()
			a := &app{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr, lookupEnv: mapEnv(nil)}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			exited := make(chan struct{})
			var code int
			go func() {
				defer close(exited)
				code = a.run(ctx, []string{"login", "--issuer", srv.issuer, "--client-id", "demo-cli"})
			}()
			t.Cleanup(func() {
				cancel()
				<-exited
			})
			failLogin := func(what string) {
				t.Helper()
				<-exited
				t.Fatalf("qrid login exited with %d before %s\nstderr:\n%s\nserver log:\n%s", code, what, stderr.String(), srv.stderr.String())
			}

			shown, ok := waitOutput(t, stderr, exited, 30*time.Second, "the QR code and the codes", func(s string) bool {
				return strings.Contains(s, "Waiting for the phone...")
			})
			if !ok {
				failLogin("showing the QR code")
			}
			open := loginOpenRE.FindStringSubmatch(shown)
			if open == nil || open[1] != srv.issuer+"/device" {
				t.Fatalf("want the verification URI %s/device and a user code under the QR code:\n%s", srv.issuer, shown)
			}
			match := loginMatchRE.FindStringSubmatch(shown)
			if match == nil {
				t.Fatalf("no match code shown (demo-cli is not first-party, so number matching is on):\n%s", shown)
			}
			content := readTerminalQR(t, shown)
			id, ok := strings.CutPrefix(content, srv.issuer+"/q/")
			if !ok || len(id) != 22 {
				t.Fatalf("the QR code says %q, want %s/q/{22-character qr_id}", content, srv.issuer)
			}

			r = phone("", "scan", tt.scanArg(t, content))
			if r.code != 0 {
				t.Fatalf("phone scan: exit %d\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stdout, "qrid demo terminal wants to sign you in.") {
				t.Errorf("phone scan does not name the client:\n%s", r.stdout)
			}
			choices := phoneChoicesRE.FindStringSubmatch(r.stdout)
			if choices == nil || !slices.Contains(choices[1:], match[1]) {
				t.Fatalf("phone scan offers %q, want three numbers including %s:\n%s", choices, match[1], r.stdout)
			}
			if _, ok := waitOutput(t, stderr, exited, 30*time.Second, "the scan to reach qrid login", func(s string) bool {
				return strings.Contains(s, "Scanned — confirm on your phone.")
			}); !ok {
				failLogin("learning of the scan")
			}

			r = phone("", "approve", "--match", match[1])
			if r.code != 0 || !strings.Contains(r.stdout, "Approved: the other screen is signing in.") {
				t.Fatalf("phone approve: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}

			select {
			case <-exited:
			case <-time.After(60 * time.Second):
				t.Fatalf("qrid login did not end within 60s of the approval; stderr:\n%s", stderr.String())
			}
			if code != 0 {
				t.Fatalf("qrid login exited with %d\nstderr:\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), "Signed in.") {
				t.Errorf("stderr does not say it signed in:\n%s", stderr.String())
			}
			var claims struct {
				Iss               string   `json:"iss"`
				Sub               string   `json:"sub"`
				Aud               []string `json:"aud"`
				AMR               []string `json:"amr"`
				PreferredUsername string   `json:"preferred_username"`
			}
			if err := json.Unmarshal([]byte(stdout.String()), &claims); err != nil {
				t.Fatalf("stdout is not the ID token's claims (%v):\n%s", err, stdout.String())
			}
			if claims.Sub != demoID || !slices.Contains(claims.AMR, "qr") || claims.Iss != srv.issuer ||
				!slices.Equal(claims.Aud, []string{"demo-cli"}) || claims.PreferredUsername != "demo" {
				t.Errorf("claims = %+v, want sub %s, amr [qr], iss %s, aud [demo-cli], preferred_username demo\n%s",
					claims, demoID, srv.issuer, stdout.String())
			}
		})
	}
}

// readTerminalQR decodes the QR code that qrid login drew in shown. It paints the
// half blocks as a camera sees them on a dark terminal (a drawn half is light, an
// empty one dark) and reads the image with the decoder qrid phone scan uses.
func readTerminalQR(t *testing.T, shown string) string {
	t.Helper()
	_, art, ok := strings.Cut(shown, terminalQRStart)
	if ok {
		art, _, ok = strings.Cut(art, "\n\nOr open ")
	}
	if !ok {
		t.Fatalf("no QR code block in the output:\n%s", shown)
	}
	const scale = 4
	lines := strings.Split(art, "\n")
	width := len([]rune(lines[0]))
	img := image.NewGray(image.Rect(0, 0, width*scale, 2*len(lines)*scale))
	for row, line := range lines {
		for x, r := range []rune(line) {
			top, bottom := r == '█' || r == '▀', r == '█' || r == '▄'
			for i, light := range []bool{top, bottom} {
				if light {
					y := (2*row + i) * scale
					draw.Draw(img, image.Rect(x*scale, y, (x+1)*scale, y+scale), image.White, image.Point{}, draw.Src)
				}
			}
		}
	}
	file := filepath.Join(t.TempDir(), "terminal.png")
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	content, err := decodeQRFile(file)
	if err != nil {
		t.Fatalf("the QR code drawn by qrid login cannot be read: %v\n%s", err, art)
	}
	return content
}

// fetchQRImage saves the PNG at uri in a file and returns its path.
func fetchQRImage(t *testing.T, uri string) string {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(uri)
	if err != nil {
		t.Fatalf("GET %s: %v", uri, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", uri, err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET %s = %d %s, want 200 image/png: %s", uri, resp.StatusCode, resp.Header.Get("Content-Type"), shortText(body, resp.StatusCode))
	}
	file := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}
