package provider_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/qrid/qrid/provider"
	"github.com/qrid/qrid/storage/postgres"
)

// TestRestartOnPostgres stops qrid and starts it again on the same database and
// secret: the client, the user, the keys and the refresh token still work.
func TestRestartOnPostgres(t *testing.T) {
	dbURL := postgres.NewTestDatabase(t)
	secret := randomSecret(t)

	first := newEnvWithSecret(t, postgres.OpenTestStore(t, dbURL), secret).seed()
	tok, _ := first.codeFlow(first.newBrowser(), first.trusted)
	oldKid := kidOf(t, tok.Extra("id_token").(string))
	addr := first.srv.Listener.Addr().String()
	first.srv.Close()
	if err := first.store.Close(); err != nil {
		t.Fatal(err)
	}

	second := newEnvAt(t, postgres.OpenTestStore(t, dbURL), secret, addr)
	second.user, second.trusted = first.user, first.trusted
	conf := second.oauth2Config(second.trusted)
	refreshed, err := conf.TokenSource(second.ctx(), refreshOnly(tok.RefreshToken)).Token()
	if err != nil {
		t.Fatalf("the refresh token did not survive the restart: %v", err)
	}
	if kid := kidOf(t, refreshed.Extra("id_token").(string)); kid != oldKid {
		t.Errorf("the signing key changed across the restart: %s → %s", oldKid, kid)
	}
	if _, err := second.verifier(second.trusted.ClientID).Verify(second.ctx(), refreshed.Extra("id_token").(string)); err != nil {
		t.Fatal(err)
	}
	// The user can still sign in with their password, through the same client.
	if tok2, _ := second.codeFlow(second.newBrowser(), second.trusted); tok2.AccessToken == "" {
		t.Fatal("no access token after restart")
	}
}

// TestTwoNodesOneDatabase runs two providers on one PostgreSQL database behind a
// round-robin balancer: every request of the flow lands on the other node.
func TestTwoNodesOneDatabase(t *testing.T) {
	dbURL := postgres.NewTestDatabase(t)
	secret := randomSecret(t)
	var nodes [2]http.Handler
	var next atomic.Uint64
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nodes[next.Add(1)%2].ServeHTTP(w, r)
	}))
	t.Cleanup(lb.Close)
	var ps [2]*provider.Provider
	for i := range nodes {
		p, err := provider.New(context.Background(), provider.Config{
			Issuer: lb.URL, Dev: true, Secret: secret, AdminToken: "admin-token",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		}, postgres.OpenTestStore(t, dbURL))
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		t.Cleanup(p.Close)
		ps[i], nodes[i] = p, p.PublicHandler()
	}
	// Both nodes started on an empty database at once would race to create keys;
	// here they started one after the other, so the second must have adopted the
	// first one's keys.
	e := &env{t: t, srv: lb, p: ps[0], issuer: lb.URL, secret: secret}
	e.seed()
	tok, _ := e.codeFlow(e.newBrowser(), e.trusted)
	refreshed, err := e.oauth2Config(e.trusted).TokenSource(e.ctx(), refreshOnly(tok.RefreshToken)).Token()
	if err != nil {
		t.Fatalf("refresh across nodes: %v", err)
	}
	v := e.verifier(e.trusted.ClientID)
	for _, raw := range []string{tok.Extra("id_token").(string), refreshed.Extra("id_token").(string)} {
		if _, err := v.Verify(e.ctx(), raw); err != nil {
			t.Fatalf("an ID token from one node does not verify with the JWKS: %v", err)
		}
	}
	k0, err := ps[0].Keys().SigningKey(context.Background(), "ES256")
	if err != nil {
		t.Fatal(err)
	}
	k1, err := ps[1].Keys().SigningKey(context.Background(), "ES256")
	if err != nil {
		t.Fatal(err)
	}
	if k0.ID != k1.ID {
		t.Fatalf("the nodes sign with different keys: %s and %s", k0.ID, k1.ID)
	}
}
