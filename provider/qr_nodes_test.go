package provider_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/qrid/qrid/provider"
	"github.com/qrid/qrid/provider/admin"
	"github.com/qrid/qrid/storage/postgres"
)

// TestQRAcrossNodes: two qrid nodes on one PostgreSQL. The PC long-polls node A;
// the phone scans and confirms on node B; node A's held poll is woken through
// PostgreSQL LISTEN/NOTIFY and answers with the tokens. The poll waits up to 25 s, so
// an answer well before that can only have come from the notification.
func TestQRAcrossNodes(t *testing.T) {
	dbURL := postgres.NewTestDatabase(t)
	secret := randomSecret(t)
	var nodes [2]*provider.Provider
	// Requests go to node A unless they carry X-Node: b.
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := nodes[0]
		if r.Header.Get("X-Node") == "b" {
			n = nodes[1]
		}
		n.PublicHandler().ServeHTTP(w, r)
	}))
	t.Cleanup(lb.Close)
	for i := range nodes {
		p, err := provider.New(context.Background(), provider.Config{
			Issuer: lb.URL, Dev: true, Secret: secret, AdminToken: "admin-token", QRInterval: time.Second,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		}, postgres.OpenTestStore(t, dbURL))
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		t.Cleanup(p.Close)
		nodes[i] = p
	}
	e := &env{t: t, srv: lb, p: nodes[0], issuer: lb.URL, secret: secret}
	e.seed()
	q := &qrEnv{env: e}
	shell, err := nodes[0].Admin().CreateClient(context.Background(), admin.ClientMetadata{ClientName: "qrid shell", FirstParty: true,
		GrantTypes: []string{admin.GrantDeviceCode}, Scope: "openid profile"})
	if err != nil {
		t.Fatal(err)
	}

	// The phone talks to node B only.
	phoneClient := &http.Client{Transport: headerTransport{"X-Node", "b"}, Timeout: 30 * time.Second}
	ph := q.newPhoneWith(t, phoneClient, "alice", testPassword, "node-b-phone")

	da := q.authorize(t, shell, "openid profile")
	sc := ph.scan(t, da.VerificationURIComplete)
	if sc.Status != http.StatusOK {
		t.Fatalf("scan on node B: %+v", sc)
	}
	answers := make(chan pollAnswer, 1)
	go func() { answers <- q.pollWith(t, lb.Client(), shell, da.DeviceCode, 25) }()
	deadline := time.Now().Add(10 * time.Second)
	for nodes[0].HeldPolls() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the long-poll was never held by node A")
		}
		time.Sleep(time.Millisecond)
	}
	if nodes[1].HeldPolls() != 0 {
		t.Fatal("the poll went to node B")
	}
	if c := ph.confirm(t, sc.ConfirmToken, true, ""); c.Decision != "approved" {
		t.Fatalf("confirm on node B: %+v", c)
	}
	select {
	case a := <-answers:
		if a.Status != http.StatusOK || a.IDToken == "" {
			t.Fatalf("node A answered %+v", a)
		}
		if _, err := e.verifier(shell.ClientID).Verify(e.ctx(), a.IDToken); err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("node A's held poll was not woken by the confirmation on node B")
	}
}

// headerTransport adds one header to every request.
type headerTransport [2]string

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h[0], h[1])
	return http.DefaultTransport.RoundTrip(r)
}
