package provider_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qrid/qrid/provider"
	"github.com/qrid/qrid/provider/admin"
	"github.com/qrid/qrid/provider/storeguard"
	"github.com/qrid/qrid/storage/postgres"
)

// pgProxy is a TCP proxy between qrid and the test PostgreSQL server that can cut the
// database off: Cut closes every connection through it and refuses new ones (it
// accepts and closes them at once, as a server that is down would), Restore lets
// connections through again. The server itself is never touched: other tests use it
// at the same time.
type pgProxy struct {
	l      net.Listener
	target string

	mu      sync.Mutex
	cut     bool
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
	refused atomic.Int64 // connections refused while cut
}

// newPGProxy listens on 127.0.0.1 and forwards to target (host:port) until t ends.
func newPGProxy(t *testing.T, target string) *pgProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{l: l, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		l.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's host:port.
func (p *pgProxy) Addr() string { return p.l.Addr().String() }

func (p *pgProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			p.refused.Add(1)
			c.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.forward(c)
	}
}

// forward pipes client to the server until either side closes or the proxy cuts.
func (p *pgProxy) forward(client net.Conn) {
	defer p.wg.Done()
	defer p.drop(client)
	server, err := net.DialTimeout("tcp", p.target, 10*time.Second)
	if err != nil {
		return
	}
	defer p.drop(server)
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		return
	}
	p.conns[server] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(server, client); done <- struct{}{} }()
	go func() { _, _ = io.Copy(client, server); done <- struct{}{} }()
	<-done
	// Closing both ends (the deferred drops) ends the other copy.
	p.drop(client)
	p.drop(server)
	<-done
}

func (p *pgProxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// Cut closes every connection and refuses new ones until Restore.
func (p *pgProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Restore lets connections through again.
func (p *pgProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

// proxiedTestDatabase returns a fresh test database (postgres.NewTestDatabase) and
// a proxy in front of its server, with the URL that goes through the proxy.
func proxiedTestDatabase(t *testing.T) (*pgProxy, string) {
	t.Helper()
	direct := postgres.NewTestDatabase(t)
	u, err := url.Parse(direct)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" || strings.Contains(u.Host, ",") {
		t.Skip("!!! the outage test needs QRID_TEST_DATABASE_URL as a postgres:// URL with one TCP host; SKIPPING it")
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	proxy := newPGProxy(t, target)
	u.Host = proxy.Addr()
	return proxy, u.String()
}

// newGuardedQREnv is newQREnv with the store guard in front of the public handler,
// as the provider will have it once it is wired in.
func newGuardedQREnv(t *testing.T, store *postgres.Store, opts storeguard.Options) (*qrEnv, *storeguard.Guard) {
	t.Helper()
	c := newClock()
	e := &env{t: t, store: store, secret: randomSecret(t)}
	var handler atomic.Value
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	e.issuer = e.srv.URL
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := provider.New(context.Background(), provider.Config{
		Issuer: e.issuer, Dev: true, Secret: e.secret, AdminToken: "admin-token", Logger: logger,
		QRInterval: time.Second, QRTTL: 5 * time.Minute, Now: c.Now,
	}, store)
	if err != nil {
		t.Fatalf("provider.New: %v", err)
	}
	t.Cleanup(p.Close)
	e.p = p
	opts.Logger = logger
	guard := storeguard.New(store, opts)
	guard.Start(context.Background())
	t.Cleanup(guard.Close)
	handler.Store(guard.Middleware(p.PublicHandler()))
	e.seed()
	q := &qrEnv{env: e, clock: c}
	q.shell, err = p.Admin().CreateClient(context.Background(), admin.ClientMetadata{ClientName: "qrid shell", FirstParty: true,
		GrantTypes: []string{admin.GrantDeviceCode, admin.GrantRefreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	return q, guard
}

// awaitStatus sends req() until it answers status, with a deadline, and returns
// that answer (its body read).
func awaitStatus(t *testing.T, what string, status int, req func() (*http.Response, error)) (*http.Response, string) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	last := "no answer"
	for {
		resp, err := req()
		if err == nil {
			body := readBody(t, resp)
			if resp.StatusCode == status {
				return resp, body
			}
			last = strconv.Itoa(resp.StatusCode) + " " + body
		} else {
			last = err.Error()
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s: no %d within 30 s (last answer: %s)", what, status, last)
		}
	}
}

// wantUnavailable checks a refusal of the store guard.
func wantUnavailable(t *testing.T, what string, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("%s = %d during the outage, want 503: %s", what, resp.StatusCode, body)
	}
	if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Fatalf("%s: Retry-After = %q, want seconds", what, resp.Header.Get("Retry-After"))
	}
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error != "temporarily_unavailable" || e.Message == "" {
		t.Fatalf("%s: body = %s", what, body)
	}
}

// TestOutagePostgres: PostgreSQL goes away under a running qrid and comes back.
// While it is away every request but health, metrics and static files is answered
// 503 with Retry-After; when it is back qrid serves again by itself, with nothing
// restarted and nothing lost.
func TestOutagePostgres(t *testing.T) {
	t.Parallel()
	proxy, databaseURL := proxiedTestDatabase(t)
	store := postgres.OpenTestStore(t, databaseURL)
	q, guard := newGuardedQREnv(t, store, storeguard.Options{
		CheckEvery: 200 * time.Millisecond, RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond,
	})
	client := q.srv.Client()
	get := func(path string) func() (*http.Response, error) {
		return func() (*http.Response, error) { return client.Get(q.issuer + path) }
	}

	// Before: a sign-in with the code flow, and a phone signed in to the app.
	before, _ := q.codeFlow(q.newBrowser(), q.web)
	if before.RefreshToken == "" {
		t.Fatal("no refresh token before the outage")
	}
	ph := q.newPhone(t, "alice", testPassword, "outage-phone")
	awaitStatus(t, "readyz before the outage", http.StatusOK, get("/readyz"))

	proxy.Cut()
	// Discovery needs no store: only the guard makes it answer 503.
	resp, body := awaitStatus(t, "discovery after the cut", http.StatusServiceUnavailable, get("/.well-known/openid-configuration"))
	wantUnavailable(t, "discovery", resp, body)
	if !guard.Down() {
		t.Fatal("requests are refused but the guard does not report the store down")
	}
	t.Run("fail/store_unreachable", func(t *testing.T) {
		for _, path := range []string{"/readyz", "/.well-known/jwks.json", "/oauth2/auth?client_id=" + url.QueryEscape(q.web.ClientID), "/device"} {
			resp, err := client.Get(q.issuer + path)
			if err != nil {
				t.Fatal(err)
			}
			wantUnavailable(t, "GET "+path, resp, readBody(t, resp))
		}
		resp, err := client.PostForm(q.issuer+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {before.RefreshToken}})
		if err != nil {
			t.Fatal(err)
		}
		wantUnavailable(t, "POST /oauth2/token", resp, readBody(t, resp))
		status, body := ph.call(t, http.MethodGet, "/api/mobile/v1/devices", nil)
		if status != http.StatusServiceUnavailable || !strings.Contains(string(body), "temporarily_unavailable") {
			t.Fatalf("GET /api/mobile/v1/devices = %d %s during the outage", status, body)
		}
		// Liveness, metrics and static files do not need the store.
		for _, path := range []string{"/healthz", "/metrics", "/static/qrid.css"} {
			resp, err := client.Get(q.issuer + path)
			if err != nil {
				t.Fatal(err)
			}
			if body := readBody(t, resp); resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %d during the outage: %s", path, resp.StatusCode, body)
			}
		}
	})
	if proxy.refused.Load() == 0 {
		t.Fatal("nothing tried to reach the store during the outage")
	}
	// pgxpool hands out a connection idle for less than a second without checking
	// it: wait until it has let go of every connection the cut broke, as it does
	// within a few of the guard's retry pings, so that what follows does not depend
	// on how long the outage lasted.
	awaitPool(t, store)

	proxy.Restore()
	awaitStatus(t, "readyz after the store came back", http.StatusOK, get("/readyz"))
	if guard.Down() {
		t.Fatal("readyz answers but the guard reports the store down")
	}

	t.Run("ok/everything_from_before_works", func(t *testing.T) {
		// The refresh token issued before the outage still refreshes.
		conf := q.oauth2Config(q.web)
		if _, err := conf.TokenSource(q.ctx(), refreshOnly(before.RefreshToken)).Token(); err != nil {
			t.Fatalf("refreshing a token from before the outage: %v", err)
		}
		// The user and the client from before sign in again, with a new browser.
		tok, _ := q.codeFlow(q.newBrowser().on(t), q.web)
		if _, err := q.verifier(q.web.ClientID).Verify(q.ctx(), tok.Extra("id_token").(string)); err != nil {
			t.Fatalf("ID token after the outage: %v", err)
		}
		// The phone signed in before the outage signs a PC in with a QR.
		a := q.qrLogin(t, ph, "openid profile")
		if _, err := q.verifier(q.shell.ClientID).Verify(q.ctx(), a.IDToken); err != nil {
			t.Fatalf("QR ID token after the outage: %v", err)
		}
	})
}

// awaitPool waits, with a deadline, until store's pool holds no connection.
func awaitPool(t *testing.T, store *postgres.Store) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for store.Pool().Stat().TotalConns() > 0 {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("the pool still holds connections from before the cut after 30 s")
		}
	}
}
