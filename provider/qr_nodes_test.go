package provider_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
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
	e, nodes, shell := newTwoNodes(t)
	q := &qrEnv{env: e}

	// The phone talks to node B only.
	phoneClient := &http.Client{Transport: headerTransport{"X-Node", "b"}, Timeout: 30 * time.Second}
	ph := q.newPhoneWith(t, phoneClient, "alice", testPassword, "node-b-phone")

	da := q.authorize(t, shell, "openid profile")
	sc := ph.scan(t, da.VerificationURIComplete)
	if sc.Status != http.StatusOK {
		t.Fatalf("scan on node B: %+v", sc)
	}
	answers := make(chan pollAnswer, 1)
	go func() { answers <- q.pollWith(t, e.srv.Client(), shell, da.DeviceCode, 25) }()
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

// newTwoNodes starts two providers on one PostgreSQL database behind one balancer
// (the issuer): a request goes to node B when it carries X-Node: b, else to node A.
// It seeds the env's user and clients and a first-party device-flow client, shell.
func newTwoNodes(t *testing.T) (*env, [2]*provider.Provider, admin.ClientInfo) {
	t.Helper()
	dbURL := postgres.NewTestDatabase(t)
	secret := randomSecret(t)
	var nodes [2]*provider.Provider
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
	shell, err := nodes[0].Admin().CreateClient(context.Background(), admin.ClientMetadata{ClientName: "qrid shell", FirstParty: true,
		GrantTypes: []string{admin.GrantDeviceCode}, Scope: "openid profile"})
	if err != nil {
		t.Fatal(err)
	}
	return e, nodes, shell
}

// TestQRRacesAcrossNodes tries to break DESIGN §4's single-winner invariants where
// each node decides from its own cached copy of the session: confirms, polls and
// woken long-polls of one session spread over two nodes whose hubs both know it.
func TestQRRacesAcrossNodes(t *testing.T) {
	e, nodes, shell := newTwoNodes(t)
	q := &qrEnv{env: e, shell: shell}
	clients := [2]*http.Client{
		{Transport: headerTransport{"X-Node", "a"}, Timeout: 40 * time.Second},
		{Transport: headerTransport{"X-Node", "b"}, Timeout: 40 * time.Second},
	}
	phones := [2]*phone{
		q.newPhoneWith(t, clients[0], "alice", testPassword, "phone-via-a"),
		q.newPhoneWith(t, clients[1], "alice", testPassword, "phone-via-b"),
	}
	// bothKnow has each node answer one poll of da, so that both hubs hold it.
	bothKnow := func(da deviceAuth) {
		for i, c := range clients {
			if a := q.pollWith(t, c, shell, da.DeviceCode, 0); a.Error != "authorization_pending" {
				t.Fatalf("first poll on node %d: %+v", i, a)
			}
		}
	}
	// heardOf makes both nodes read the session again, as they do once the
	// change's notification has reached them, so that no answer comes from a node
	// that has not heard of the change yet (a few milliseconds; not what is tested).
	heardOf := func() {
		for _, node := range nodes {
			node.RecheckQR()
		}
	}
	const n = 40

	t.Run("confirms", func(t *testing.T) {
		da := q.authorize(t, shell, "openid")
		sc := phones[0].scan(t, da.VerificationURIComplete)
		if sc.Status != http.StatusOK {
			t.Fatalf("scan: %+v", sc)
		}
		// The same device, confirming through either node.
		viaB := &phone{q: q, http: clients[1], deviceID: phones[0].deviceID, token: phones[0].token}
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			ph := phones[0]
			if i%2 == 1 {
				ph = viaB
			}
			wg.Go(func() {
				<-start
				if c := ph.confirm(t, sc.ConfirmToken, true, ""); c.Status == http.StatusOK {
					wins.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d of %d confirms spread over two nodes won, want exactly 1", wins.Load(), n)
		}
	})

	t.Run("scans_by_two_phones", func(t *testing.T) {
		da := q.authorize(t, shell, "openid")
		bothKnow(da)
		answers := make(chan scanAnswer, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, ph := range phones {
			wg.Go(func() {
				<-start
				answers <- ph.scan(t, da.VerificationURIComplete)
			})
		}
		close(start)
		wg.Wait()
		close(answers)
		heardOf()
		// Whichever came first, two phones on one QR close it: no confirm token
		// works any more, and the PC is told the session was contested.
		for a := range answers {
			if a.ConfirmToken == "" {
				continue
			}
			for _, ph := range phones {
				if c := ph.confirm(t, a.ConfirmToken, true, ""); c.Status == http.StatusOK {
					t.Fatalf("a confirm after two phones scanned was accepted: %+v", c)
				}
			}
		}
		for i, c := range clients {
			if a := q.pollWith(t, c, shell, da.DeviceCode, 0); a.Error != "access_denied" || a.QRStatus != "contested" {
				t.Errorf("poll on node %d after two phones scanned: %+v, want access_denied/contested", i, a)
			}
		}
	})

	t.Run("polls_after_approval", func(t *testing.T) {
		da := q.authorize(t, shell, "openid")
		bothKnow(da)
		sc := phones[1].scan(t, da.VerificationURIComplete)
		if c := phones[1].confirm(t, sc.ConfirmToken, true, ""); c.Decision != "approved" {
			t.Fatalf("confirm: %+v", c)
		}
		heardOf()
		pollRace(t, n, func(i int) pollAnswer { return q.pollWith(t, clients[i%2], shell, da.DeviceCode, 0) })
	})

	t.Run("long_polls_woken_on_both_nodes", func(t *testing.T) {
		da := q.authorize(t, shell, "openid")
		answers := make(chan pollAnswer, 2)
		for _, c := range clients {
			go func() { answers <- q.pollWith(t, c, shell, da.DeviceCode, 25) }()
		}
		waitFor(t, "a long-poll held on each node", func() bool { return nodes[0].HeldPolls() == 1 && nodes[1].HeldPolls() == 1 })
		sc := phones[0].scan(t, da.VerificationURIComplete)
		for range 2 { // both woken by the scan
			if a := <-answers; a.Error != "authorization_pending" || a.QRStatus != "scanned" {
				t.Fatalf("long-poll woken by the scan: %+v", a)
			}
		}
		for _, c := range clients {
			go func() { answers <- q.pollWith(t, c, shell, da.DeviceCode, 25) }()
		}
		waitFor(t, "the long-polls held again", func() bool { return nodes[0].HeldPolls() == 1 && nodes[1].HeldPolls() == 1 })
		if c := phones[0].confirm(t, sc.ConfirmToken, true, ""); c.Decision != "approved" {
			t.Fatalf("confirm: %+v", c)
		}
		got := []pollAnswer{<-answers, <-answers}
		withTokens := 0
		for _, a := range got {
			switch {
			case a.AccessToken != "":
				withTokens++
			case a.Error != "invalid_grant":
				t.Errorf("the other woken long-poll got %+v, want invalid_grant", a)
			}
		}
		if withTokens != 1 {
			t.Fatalf("%d of the two woken long-polls got tokens, want exactly 1: %+v", withTokens, got)
		}
	})
}

// headerTransport adds one header to every request.
type headerTransport [2]string

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h[0], h[1])
	return http.DefaultTransport.RoundTrip(r)
}
