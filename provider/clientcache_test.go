package provider_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/qrid/qrid/provider"
	"github.com/qrid/qrid/provider/admin"
	"github.com/qrid/qrid/provider/clientcache"
	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
)

// clientCredentials asks env's token endpoint for a client_credentials token as
// clientID with secret.
func clientCredentials(e *env, clientID, secret string) error {
	cc := clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: e.issuer + "/oauth2/token",
		Scopes: []string{"profile"}, AuthStyle: oauth2.AuthStyleInHeader}
	_, err := cc.Token(e.ctx())
	return err
}

// TestClientChangesApplyAtOnceOnThisNode: the node caches clients, yet a change made
// through its own admin service is in force for the very next request. The QR
// environment's clock stands still, so no cache entry expires by itself here.
func TestClientChangesApplyAtOnceOnThisNode(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) storage.Storage) {
		q := newQREnv(t, newStore(t))
		ctx, svc := context.Background(), q.p.Admin()

		// Warm the cache with each client.
		if err := clientCredentials(q.env, q.machine.ClientID, q.machine.ClientSecret); err != nil {
			t.Fatalf("client credentials: %v", err)
		}
		q.authorize(t, q.tv, "openid")

		rotated, err := svc.RotateClientSecret(ctx, q.machine.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		assertOAuthError(t, clientCredentials(q.env, q.machine.ClientID, q.machine.ClientSecret), "invalid_client")
		if err := clientCredentials(q.env, q.machine.ClientID, rotated.ClientSecret); err != nil {
			t.Fatalf("the new secret: %v", err)
		}

		if err := svc.DeleteClient(ctx, q.machine.ClientID); err != nil {
			t.Fatal(err)
		}
		assertOAuthError(t, clientCredentials(q.env, q.machine.ClientID, rotated.ClientSecret), "invalid_client")

		// A public device client: its device authorizations stop at once too.
		if err := svc.DeleteClient(ctx, q.tv.ClientID); err != nil {
			t.Fatal(err)
		}
		status, body := q.postForm(t, "/oauth2/device/auth", q.tv, url.Values{"scope": {"openid"}})
		var answer struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(body, &answer); err != nil || status != http.StatusUnauthorized || answer.Error != "invalid_client" {
			t.Fatalf("device authorization by a deleted client: %d %s", status, body)
		}

		// An update is seen at once: the shell loses the device code grant.
		q.authorize(t, q.shell, "openid")
		if _, err := svc.UpdateClient(ctx, q.shell.ClientID, admin.ClientMetadata{ClientName: "qrid shell",
			GrantTypes: []string{"client_credentials"}, Scope: "profile"}); err != nil {
			t.Fatal(err)
		}
		if status, body := q.postForm(t, "/oauth2/device/auth", q.shell, url.Values{"scope": {"openid"}}); status == http.StatusOK {
			t.Fatalf("a client without the device code grant started a QR session: %s", body)
		}
	})
}

// TestClientChangesReachOtherNodesWithinTheTTL: another node keeps its cached
// client for at most clientcache.DefaultTTL (the window SECURITY.md states), then
// sees the change.
func TestClientChangesReachOtherNodesWithinTheTTL(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) storage.Storage) {
		store, secret, clk := newStore(t), randomSecret(t), newClock()
		tune := func(cfg *provider.Config) { cfg.Now = clk.Now }
		a := newEnvConfig(t, store, secret, "127.0.0.1:0", tune).seed()
		b := newEnvConfig(t, store, secret, "127.0.0.1:0", tune)
		machine := a.machine

		if err := clientCredentials(b, machine.ClientID, machine.ClientSecret); err != nil {
			t.Fatalf("node B: %v", err)
		}
		rotated, err := a.p.Admin().RotateClientSecret(context.Background(), machine.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		assertOAuthError(t, clientCredentials(a, machine.ClientID, machine.ClientSecret), "invalid_client")
		clk.Advance(clientcache.DefaultTTL - time.Millisecond)
		if err := clientCredentials(b, machine.ClientID, machine.ClientSecret); err != nil {
			t.Fatalf("node B refused the old secret within the TTL, so it did not use its cache: %v", err)
		}
		clk.Advance(time.Millisecond)
		assertOAuthError(t, clientCredentials(b, machine.ClientID, machine.ClientSecret), "invalid_client")
		if err := clientCredentials(b, machine.ClientID, rotated.ClientSecret); err != nil {
			t.Fatalf("node B, new secret: %v", err)
		}

		if err := a.p.Admin().DeleteClient(context.Background(), machine.ClientID); err != nil {
			t.Fatal(err)
		}
		clk.Advance(clientcache.DefaultTTL)
		assertOAuthError(t, clientCredentials(b, machine.ClientID, rotated.ClientSecret), "invalid_client")
	})
}

// clientReadCounter is a memory store that counts client reads.
type clientReadCounter struct {
	*memory.Store
	reads atomic.Int64
}

func (s *clientReadCounter) GetClient(ctx context.Context, id string) (storage.Client, error) {
	s.reads.Add(1)
	return s.Store.GetClient(ctx, id)
}

// TestQRLoginReadsNoClientOnceCached: with the client cached, device authorization,
// polls and the phone's scan read no client from the store (DESIGN §7).
func TestQRLoginReadsNoClientOnceCached(t *testing.T) {
	t.Parallel()
	store := &clientReadCounter{Store: memory.New()}
	q := newQREnv(t, store)
	ph := q.newPhone(t, "alice", testPassword, "cache-phone")

	q.authorize(t, q.shell, "openid profile") // reads the shell's client once
	before := store.reads.Load()
	a := q.authorize(t, q.shell, "openid profile")
	q.clock.Advance(time.Second) // the QR interval; less than the cache's TTL
	if got := q.poll(t, q.shell, a.DeviceCode, 0); got.Error != "authorization_pending" {
		t.Fatalf("poll: %+v", got)
	}
	if s := ph.scan(t, a.VerificationURIComplete); s.Status != http.StatusOK || s.Client.Name != "qrid shell" {
		t.Fatalf("scan: %+v", s)
	}
	if got := q.poll(t, q.shell, a.DeviceCode, 0); got.Error != "authorization_pending" && got.Error != "slow_down" {
		t.Fatalf("poll after the scan: %+v", got)
	}
	if n := store.reads.Load() - before; n != 0 {
		t.Fatalf("%d client reads with the client cached, want 0", n)
	}

	q.clock.Advance(clientcache.DefaultTTL)
	q.authorize(t, q.shell, "openid profile")
	if n := store.reads.Load() - before; n != 1 {
		t.Fatalf("%d client reads after the TTL, want 1", n)
	}
}

// TestClientDeletedElsewhere: a client deleted on another node is still in this
// node's client cache for up to its TTL; what it asks for meanwhile cannot be stored
// for a client that is gone, and is refused as invalid_client, not as a server
// failure or a missing resource.
func TestClientDeletedElsewhere(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) storage.Storage) {
		q := newQREnv(t, newStore(t))
		q.authorize(t, q.shell, "openid") // cached on this node
		if err := clientCredentials(q.env, q.machine.ClientID, q.machine.ClientSecret); err != nil {
			t.Fatal(err)
		}
		// Another node's admin deletes them: this node's cache is not told.
		for _, id := range []string{q.shell.ClientID, q.machine.ClientID} {
			if err := q.store.DeleteClient(context.Background(), id); err != nil {
				t.Fatal(err)
			}
		}
		status, body := q.postForm(t, "/oauth2/device/auth", q.shell, url.Values{"scope": {"openid"}})
		if status != http.StatusUnauthorized || !strings.Contains(string(body), `"invalid_client"`) {
			t.Errorf("device authorization of a client deleted elsewhere = %d %s, want 401 invalid_client", status, body)
		}
		assertOAuthError(t, clientCredentials(q.env, q.machine.ClientID, q.machine.ClientSecret), "invalid_client")
	})
}
