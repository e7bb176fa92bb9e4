package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qrid/qrid/provider/admin"
	"github.com/qrid/qrid/provider/digest"
	"github.com/qrid/qrid/storage/memory"
)

func TestSeedDemo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	secrets, err := digest.New([]byte(goodSecret), "client-secret")
	if err != nil {
		t.Fatal(err)
	}
	svc := &admin.Service{Store: memory.New(), ClientSecrets: secrets, Dev: true}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	d, err := seedDemo(ctx, svc, logger)
	if err != nil {
		t.Fatalf("seedDemo: %v", err)
	}
	if d.clientSecret == "" || len(d.password) < 16 {
		t.Errorf("seeded %+v, want a client secret and a long password", d)
	}
	c, err := svc.GetClient(ctx, "demo")
	if err != nil {
		t.Fatalf("demo client: %v", err)
	}
	if c.ClientName != "qrid demo site" ||
		!slices.Equal(c.RedirectURIs, []string{"http://localhost:9090/callback", "http://127.0.0.1:9090/callback"}) ||
		!slices.Equal(c.PostLogoutRedirectURIs, []string{"http://localhost:9090/"}) ||
		!slices.Equal(c.GrantTypes, []string{"authorization_code", "refresh_token", "client_credentials"}) ||
		c.TokenEndpointAuthMethod == admin.AuthNone {
		t.Errorf("demo client = %+v", c)
	}
	users, err := svc.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].Username != "demo" || users[0].Name != "Demo User" || users[0].Email != "demo@example.com" {
		t.Errorf("users = %+v, want the demo user", users)
	}

	// A store that already holds them (a database from an earlier run) keeps them.
	again, err := seedDemo(ctx, svc, logger)
	if err != nil {
		t.Fatalf("seedDemo on a seeded store: %v", err)
	}
	if again.clientSecret != "" || again.password != "" {
		t.Errorf("second seeding = %+v, want nothing new", again)
	}
}

func TestDevBanner(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	a := &app{stdout: &out}
	cfg := serveConfig{issuer: "http://localhost:8080", adminToken: "adm-tok"}
	addr := &net.TCPAddr{IP: net.IPv4zero, Port: 8081}
	a.printDevBanner(cfg, generated{adminToken: true}, addr, &demoData{clientSecret: "cs", password: "pw"})
	for _, want := range []string{
		"http://localhost:8080", "adm-tok", "http://127.0.0.1:8081",
		"client_id=demo", "client_secret=cs", "username=demo", "password=pw",
		"export QRID_ENDPOINT=http://127.0.0.1:8081 QRID_ADMIN_TOKEN=adm-tok",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner does not contain %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	a.printDevBanner(cfg, generated{}, addr, &demoData{})
	if strings.Contains(out.String(), "adm-tok") {
		t.Errorf("banner shows an admin token it did not generate:\n%s", out.String())
	}
}

var (
	listeningRE = regexp.MustCompile(`msg=listening listener=(public|admin) addr=(\S+)`)
	exportRE    = regexp.MustCompile(`export QRID_ENDPOINT=(\S+) QRID_ADMIN_TOKEN=(\S+)`)
)

func TestServeDevStartsAndStops(t *testing.T) {
	t.Parallel()

	stdout, stderr := newSyncBuffer(), newSyncBuffer()
	a := &app{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr, lookupEnv: mapEnv(nil)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- a.run(ctx, []string{"serve", "--dev", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"})
	}()

	logs := stderr.waitFor(t, 30*time.Second, "both listening log lines", func(s string) bool {
		return len(listeningRE.FindAllString(s, -1)) == 2
	})
	addrs := map[string]string{}
	for _, m := range listeningRE.FindAllStringSubmatch(logs, -1) {
		addrs[m[1]] = m[2]
	}
	banner := stdout.waitFor(t, 10*time.Second, "the dev banner", func(s string) bool { return exportRE.MatchString(s) })
	exported := exportRE.FindStringSubmatch(banner)
	if exported[1] != "http://"+addrs["admin"] {
		t.Errorf("banner endpoint %s, want the admin listener %s", exported[1], addrs["admin"])
	}
	env := map[string]string{"QRID_ENDPOINT": exported[1], "QRID_ADMIN_TOKEN": exported[2]}

	// The admin commands work against the real admin API with what the banner says.
	if r := runQrid(t, env, "", "clients", "get", "demo"); r.code != 0 || !strings.Contains(r.stdout, `"client_name": "qrid demo site"`) {
		t.Errorf("clients get demo: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if r := runQrid(t, env, "a long enough password\n", "users", "create", "--username", "alice"); r.code != 0 || !strings.Contains(r.stdout, `"username": "alice"`) {
		t.Errorf("users create: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if r := runQrid(t, env, "", "clients", "get", "nope"); r.code != 1 || !strings.Contains(r.stderr, "(not_found, HTTP 404)") {
		t.Errorf("clients get nope: exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	env["QRID_ADMIN_TOKEN"] = "wrong"
	if r := runQrid(t, env, "", "keys", "list"); r.code != 1 || !strings.Contains(r.stderr, "HTTP 401)") {
		t.Errorf("keys list with a wrong token: exit %d\nstderr:\n%s", r.code, r.stderr)
	}

	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addrs["public"] + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %d, want 200", resp.StatusCode)
	}
	resp, err = client.Get("http://" + addrs["admin"] + "/admin/v1/clients")
	if err != nil {
		t.Fatalf("GET admin clients: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("admin API without a token = %d, want 401", resp.StatusCode)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited with %d after cancellation; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(25 * time.Second):
		t.Fatalf("serve did not stop within 25s of cancellation; stderr:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "msg=stopped") {
		t.Errorf("no clean stop logged:\n%s", stderr.String())
	}
	if _, err := net.DialTimeout("tcp", addrs["public"], time.Second); err == nil {
		t.Errorf("public listener %s still accepts connections after shutdown", addrs["public"])
	}
}
