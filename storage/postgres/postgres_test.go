package postgres_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/postgres"
	"github.com/qrid/qrid/storage/storagetest"
)

// TestConformance runs the storage contract's suite, each scenario on its own
// freshly migrated schema.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage { return postgres.NewTestStore(t) })
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)

func mustClient(t *testing.T, s *postgres.Store, id string) storage.Client {
	t.Helper()
	c := storage.Client{ID: id, Name: "client " + id, Scopes: []string{"openid"}, CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateClient(t.Context(), c); err != nil {
		t.Fatalf("CreateClient(%s): %v", id, err)
	}
	return c
}

func mustUser(t *testing.T, s *postgres.Store, id string) {
	t.Helper()
	if err := s.CreateUser(t.Context(), storage.User{ID: id, Username: "name-" + id, CreatedAt: t0}); err != nil {
		t.Fatalf("CreateUser(%s): %v", id, err)
	}
}

func mustToken(t *testing.T, s *postgres.Store, kind storage.TokenKind, sig, client, subject string, expires time.Time) {
	t.Helper()
	ts := storage.TokenSession{Kind: kind, Signature: sig, RequestID: "req-" + sig, ClientID: client,
		Subject: subject, Active: true, Request: []byte("{}"), CreatedAt: t0, ExpiresAt: expires}
	if err := s.CreateTokenSession(t.Context(), ts); err != nil {
		t.Fatalf("CreateTokenSession(%s): %v", sig, err)
	}
}

func TestOpen(t *testing.T) {
	t.Run("fail/unreachable", func(t *testing.T) {
		t.Parallel()
		_, err := postgres.Open(t.Context(), "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=10")
		if err == nil || !strings.Contains(err.Error(), "cannot reach database") {
			t.Fatalf("Open on an unreachable server: got %v, want a 'cannot reach database' error", err)
		}
	})
	t.Run("fail/invalid_url", func(t *testing.T) {
		t.Parallel()
		_, err := postgres.Open(t.Context(), "postgres://[::1")
		if err == nil || !strings.Contains(err.Error(), "invalid database URL") {
			t.Fatalf("Open on a malformed URL: got %v, want an 'invalid database URL' error", err)
		}
	})
	t.Run("ok", func(t *testing.T) {
		t.Parallel()
		s, err := postgres.Open(t.Context(), postgres.NewTestDatabase(t))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		if s.Pool() == nil {
			t.Fatal("Pool() is nil")
		}
		if got := s.Pool().Config().MaxConns; got != postgres.DefaultMaxConns {
			t.Errorf("a URL without pool_max_conns gave a pool of %d, want %d", got, postgres.DefaultMaxConns)
		}
	})
}

func TestMigrate(t *testing.T) {
	t.Run("ok/status_before_and_after_twice", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		u := postgres.NewTestUnmigratedDatabase(t)

		before, err := postgres.MigrationStatus(ctx, u)
		if err != nil {
			t.Fatalf("MigrationStatus before: %v", err)
		}
		if before.Current != 0 || before.Latest < 2 || len(before.Pending) != int(before.Latest) {
			t.Fatalf("status before: %+v, want current 0 and every migration pending", before)
		}
		if before.Pending[0] != "0001_core.sql" {
			t.Fatalf("first pending migration = %q, want 0001_core.sql", before.Pending[0])
		}
		again, err := postgres.MigrationStatus(ctx, u)
		if err != nil || again.Current != 0 {
			t.Fatalf("MigrationStatus is not read-only: %+v, %v", again, err)
		}

		for i := range 2 {
			if err := postgres.Migrate(ctx, u); err != nil {
				t.Fatalf("Migrate #%d: %v", i+1, err)
			}
			after, err := postgres.MigrationStatus(ctx, u)
			if err != nil {
				t.Fatalf("MigrationStatus after #%d: %v", i+1, err)
			}
			if after.Current != before.Latest || after.Latest != before.Latest || len(after.Pending) != 0 {
				t.Fatalf("status after Migrate #%d: %+v, want current = latest = %d, nothing pending", i+1, after, before.Latest)
			}
		}

		s := postgres.OpenTestStore(t, u)
		mustClient(t, s, "c1")
	})

	t.Run("ok/concurrent_on_fresh_schema", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		u := postgres.NewTestUnmigratedDatabase(t)
		const nodes = 4
		errs := make([]error, nodes)
		var wg sync.WaitGroup
		for i := range nodes {
			wg.Go(func() { errs[i] = postgres.Migrate(ctx, u) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Migrate on node %d: %v", i, err)
			}
		}
		st, err := postgres.MigrationStatus(ctx, u)
		if err != nil || st.Current != st.Latest || len(st.Pending) != 0 {
			t.Fatalf("status after concurrent Migrate: %+v, %v", st, err)
		}
	})

	t.Run("ok/pool_settings_in_the_url", func(t *testing.T) {
		// The server's URL may tune its pool; migrating on it must work too.
		t.Parallel()
		u := postgres.NewTestUnmigratedDatabase(t) + "&pool_max_conns=7&pool_min_conns=1"
		if err := postgres.Migrate(t.Context(), u); err != nil {
			t.Fatalf("Migrate with pool settings in the URL: %v", err)
		}
		s, err := postgres.Open(t.Context(), u)
		if err != nil {
			t.Fatalf("Open with pool settings in the URL: %v", err)
		}
		defer s.Close()
		if got := s.Pool().Config().MaxConns; got != 7 {
			t.Errorf("pool_max_conns=7 gave a pool of %d", got)
		}
	})

	t.Run("fail/unreachable", func(t *testing.T) {
		t.Parallel()
		u := "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=10"
		if err := postgres.Migrate(t.Context(), u); err == nil {
			t.Fatal("Migrate on an unreachable server succeeded")
		}
		if _, err := postgres.MigrationStatus(t.Context(), u); err == nil {
			t.Fatal("MigrationStatus on an unreachable server succeeded")
		}
	})
}

func TestDeactivateTokenSession(t *testing.T) {
	t.Run("ok/exactly_one_of_many_concurrent_wins", func(t *testing.T) {
		t.Parallel()
		s := postgres.NewTestStore(t)
		mustClient(t, s, "c1")
		mustToken(t, s, storage.KindRefreshToken, "sig", "c1", "u1", t0)

		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = s.DeactivateTokenSession(t.Context(), storage.KindRefreshToken, "sig") })
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, storage.ErrConflict):
				t.Errorf("loser got %v, want ErrConflict", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d calls succeeded, want exactly 1", wins)
		}
		got, err := s.GetTokenSession(t.Context(), storage.KindRefreshToken, "sig")
		if err != nil || got.Active {
			t.Fatalf("after deactivation: %+v, %v", got, err)
		}
	})
	t.Run("fail/missing_is_not_found", func(t *testing.T) {
		t.Parallel()
		s := postgres.NewTestStore(t)
		mustClient(t, s, "c1")
		mustToken(t, s, storage.KindAccessToken, "sig", "c1", "u1", t0)
		// Same signature, other kind: not found.
		err := s.DeactivateTokenSession(t.Context(), storage.KindRefreshToken, "sig")
		if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
	})
}

func TestReferences(t *testing.T) {
	t.Run("fail/token_session_for_unknown_client_is_not_found", func(t *testing.T) {
		t.Parallel()
		s := postgres.NewTestStore(t)
		err := s.CreateTokenSession(t.Context(), storage.TokenSession{Kind: storage.KindAccessToken,
			Signature: "sig", ClientID: "nobody", Request: []byte("{}"), CreatedAt: t0, ExpiresAt: t0})
		if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
	})
	t.Run("fail/consent_for_unknown_user_is_not_found", func(t *testing.T) {
		t.Parallel()
		s := postgres.NewTestStore(t)
		mustClient(t, s, "c1")
		err := s.SaveConsent(t.Context(), storage.Consent{Subject: "nobody", ClientID: "c1", GrantedAt: t0})
		if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
	})
	t.Run("ok/delete_user_keeps_client_credentials_tokens", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := postgres.NewTestStore(t)
		mustClient(t, s, "c1")
		mustUser(t, s, "u1")
		mustUser(t, s, "u2")
		mustToken(t, s, storage.KindAccessToken, "user-token", "c1", "u1", t0)
		mustToken(t, s, storage.KindAccessToken, "other-user-token", "c1", "u2", t0)
		mustToken(t, s, storage.KindAccessToken, "client-token", "c1", "c1", t0)
		if err := s.CreateBrowserSession(ctx, storage.BrowserSession{ID: "b1", Subject: "u1", AuthTime: t0, CreatedAt: t0, ExpiresAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveConsent(ctx, storage.Consent{Subject: "u1", ClientID: "c1", GrantedAt: t0}); err != nil {
			t.Fatal(err)
		}

		if err := s.DeleteUser(ctx, "u1"); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		if err := s.DeleteUser(ctx, "u1"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("second DeleteUser: got %v, want ErrNotFound", err)
		}
		if _, err := s.GetTokenSession(ctx, storage.KindAccessToken, "user-token"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("user's token session: got %v, want ErrNotFound", err)
		}
		if _, err := s.GetBrowserSession(ctx, "b1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("user's browser session: got %v, want ErrNotFound", err)
		}
		if _, err := s.GetConsent(ctx, "u1", "c1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("user's consent: got %v, want ErrNotFound", err)
		}
		for _, sig := range []string{"other-user-token", "client-token"} {
			if _, err := s.GetTokenSession(ctx, storage.KindAccessToken, sig); err != nil {
				t.Errorf("token session %s: %v, want it kept", sig, err)
			}
		}
	})
	t.Run("ok/delete_client_cascades", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := postgres.NewTestStore(t)
		mustClient(t, s, "c1")
		mustClient(t, s, "c2")
		mustUser(t, s, "u1")
		mustToken(t, s, storage.KindAccessToken, "t1", "c1", "u1", t0)
		mustToken(t, s, storage.KindAccessToken, "t2", "c2", "u1", t0)
		if err := s.SaveConsent(ctx, storage.Consent{Subject: "u1", ClientID: "c1", GrantedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteClient(ctx, "c1"); err != nil {
			t.Fatalf("DeleteClient: %v", err)
		}
		if _, err := s.GetTokenSession(ctx, storage.KindAccessToken, "t1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("client's token session: got %v, want ErrNotFound", err)
		}
		if _, err := s.GetConsent(ctx, "u1", "c1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("client's consent: got %v, want ErrNotFound", err)
		}
		if _, err := s.GetTokenSession(ctx, storage.KindAccessToken, "t2"); err != nil {
			t.Errorf("other client's token session: %v", err)
		}
	})
}

func TestSigningKeys(t *testing.T) {
	key := func(id string) storage.SigningKey {
		return storage.SigningKey{ID: id, Algorithm: "ES256", PrivateKeySealed: []byte("sealed-" + id),
			PublicKeyJWK: []byte(`{"kid":"` + id + `"}`), CreatedAt: t0}
	}
	activeKeys := func(t *testing.T, s *postgres.Store) []string {
		t.Helper()
		ks, err := s.ListSigningKeys(t.Context())
		if err != nil {
			t.Fatalf("ListSigningKeys: %v", err)
		}
		var ids []string
		for _, k := range ks {
			if k.Active() {
				ids = append(ids, k.ID)
			}
		}
		return ids
	}

	t.Run("ok/concurrent_creates_one_wins", func(t *testing.T) {
		t.Parallel()
		s := postgres.NewTestStore(t)
		const n = 6
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = s.CreateSigningKey(t.Context(), key(string(rune('a'+i)))) })
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, storage.ErrConflict):
				t.Errorf("loser got %v, want ErrConflict", err)
			}
		}
		if wins != 1 || len(activeKeys(t, s)) != 1 {
			t.Fatalf("%d creates won, active keys %v; want exactly one", wins, activeKeys(t, s))
		}
	})

	t.Run("ok/concurrent_rotations_queue", func(t *testing.T) {
		t.Parallel()
		s := postgres.NewTestStore(t)
		if err := s.CreateSigningKey(t.Context(), key("first")); err != nil {
			t.Fatal(err)
		}
		const n = 6
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = s.RotateSigningKey(t.Context(), key(string(rune('a'+i))), t0, t0.Add(time.Hour))
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("rotation %d: %v", i, err)
			}
		}
		if got := activeKeys(t, s); len(got) != 1 {
			t.Fatalf("active keys after rotations: %v, want exactly one", got)
		}
		ks, _ := s.ListSigningKeys(t.Context())
		if len(ks) != n+1 {
			t.Fatalf("%d keys stored, want %d", len(ks), n+1)
		}
		for _, k := range ks {
			if !k.Active() && (!k.RetiredAt.Equal(t0) || !k.ExpiresAt.Equal(t0.Add(time.Hour))) {
				t.Errorf("retired key %s: retired %v expires %v", k.ID, k.RetiredAt, k.ExpiresAt)
			}
		}
	})

	t.Run("fail/rotation_to_existing_id_changes_nothing", func(t *testing.T) {
		t.Parallel()
		s := postgres.NewTestStore(t)
		if err := s.CreateSigningKey(t.Context(), key("first")); err != nil {
			t.Fatal(err)
		}
		err := s.RotateSigningKey(t.Context(), key("first"), t0, t0.Add(time.Hour))
		if !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("got %v, want ErrConflict", err)
		}
		if got := activeKeys(t, s); !slices.Equal(got, []string{"first"}) {
			t.Fatalf("active keys: %v, want [first]", got)
		}
	})
}

func TestUpdateClient(t *testing.T) {
	t.Run("ok/concurrent_updates_serialise", func(t *testing.T) {
		t.Parallel()
		s := postgres.NewTestStore(t)
		mustClient(t, s, "c1")
		const n = 8
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, err := s.UpdateClient(t.Context(), "c1", func(old storage.Client) (storage.Client, error) {
					old.RedirectURIs = append(old.RedirectURIs, "https://rp.example/"+string(rune('a'+i)))
					return old, nil
				})
				if err != nil {
					t.Errorf("UpdateClient: %v", err)
				}
			})
		}
		wg.Wait()
		c, err := s.GetClient(t.Context(), "c1")
		if err != nil || len(c.RedirectURIs) != n {
			t.Fatalf("after %d appends: %v, %v; no update may be lost", n, c.RedirectURIs, err)
		}
	})

	t.Run("ok/failed_update_in_caller_tx_leaves_tx_usable", func(t *testing.T) {
		t.Parallel()
		s := postgres.NewTestStore(t)
		mustClient(t, s, "c1")
		ctx, err := s.BeginTX(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Rollback(ctx)
		if err := s.CreateClient(ctx, storage.Client{ID: "c2", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		if _, err := s.UpdateClient(ctx, "c1", func(old storage.Client) (storage.Client, error) { return old, boom }); err != boom {
			t.Fatalf("UpdateClient: got %v, want the update's error unchanged", err)
		}
		if _, err := s.UpdateClient(ctx, "c1", func(old storage.Client) (storage.Client, error) {
			old.Name = "renamed"
			return old, nil
		}); err != nil {
			t.Fatalf("UpdateClient after a failed one in the same tx: %v", err)
		}
		if err := s.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		c, err := s.GetClient(t.Context(), "c1")
		if err != nil || c.Name != "renamed" {
			t.Fatalf("after commit: %+v, %v", c, err)
		}
		if _, err := s.GetClient(t.Context(), "c2"); err != nil {
			t.Fatalf("client created in the tx: %v", err)
		}
	})

	t.Run("fail/missing_is_not_found", func(t *testing.T) {
		t.Parallel()
		s := postgres.NewTestStore(t)
		_, err := s.UpdateClient(t.Context(), "nobody", func(old storage.Client) (storage.Client, error) { return old, nil })
		if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
	})
}

func TestTransactions(t *testing.T) {
	t.Run("ok/rollback_discards", func(t *testing.T) {
		t.Parallel()
		s := postgres.NewTestStore(t)
		ctx, err := s.BeginTX(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateUser(ctx, storage.User{ID: "u1", Username: "a", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetUser(ctx, "u1"); err != nil {
			t.Fatalf("read in the tx: %v", err)
		}
		if _, err := s.GetUser(t.Context(), "u1"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("read outside the uncommitted tx: got %v, want ErrNotFound", err)
		}
		if err := s.Rollback(ctx); err != nil {
			t.Fatalf("Rollback: %v", err)
		}
		if err := s.Rollback(ctx); err != nil {
			t.Fatalf("second Rollback: %v", err)
		}
		if _, err := s.GetUser(t.Context(), "u1"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("after rollback: got %v, want ErrNotFound", err)
		}
	})
	t.Run("ok/deferred_rollback_after_commit_keeps", func(t *testing.T) {
		t.Parallel()
		s := postgres.NewTestStore(t)
		ctx, err := s.BeginTX(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateUser(ctx, storage.User{ID: "u1", Username: "a", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if err := s.Rollback(ctx); err != nil {
			t.Fatalf("Rollback after Commit: %v, want nil", err)
		}
		if _, err := s.GetUser(t.Context(), "u1"); err != nil {
			t.Fatalf("after commit: %v", err)
		}
	})
	t.Run("fail/no_nesting", func(t *testing.T) {
		t.Parallel()
		s := postgres.NewTestStore(t)
		ctx, err := s.BeginTX(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Rollback(ctx)
		if _, err := s.BeginTX(ctx); err == nil {
			t.Fatal("nested BeginTX succeeded")
		}
		if err := s.Commit(t.Context()); err == nil {
			t.Fatal("Commit without a transaction succeeded")
		}
	})
}

func TestGarbageCollectAndTimes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := postgres.NewTestStore(t)
	mustClient(t, s, "c1")
	mustUser(t, s, "u1")
	now := t0.Add(time.Hour)
	mustToken(t, s, storage.KindAccessToken, "old", "c1", "u1", now.Add(-time.Second))
	mustToken(t, s, storage.KindAccessToken, "edge", "c1", "u1", now)
	mustToken(t, s, storage.KindAccessToken, "new", "c1", "u1", now.Add(time.Second))
	paris := time.FixedZone("CET", 3600)
	if err := s.CreateBrowserSession(ctx, storage.BrowserSession{ID: "b-old", Subject: "u1", AuthTime: t0.In(paris),
		AMR: []string{"qr"}, CreatedAt: t0, ExpiresAt: now.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSigningKey(ctx, storage.SigningKey{ID: "k1", Algorithm: "ES256", PrivateKeySealed: []byte{1},
		PublicKeyJWK: []byte("{}"), CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.RotateSigningKey(ctx, storage.SigningKey{ID: "k2", Algorithm: "ES256", PrivateKeySealed: []byte{2},
		PublicKeyJWK: []byte("{}"), CreatedAt: t0}, t0, now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}

	bs, err := s.GetBrowserSession(ctx, "b-old")
	if err != nil {
		t.Fatal(err)
	}
	if bs.AuthTime.Location() != time.UTC || !bs.AuthTime.Equal(t0) {
		t.Fatalf("AuthTime = %v, want %v in UTC", bs.AuthTime, t0)
	}

	got, err := s.GarbageCollect(ctx, now)
	if err != nil {
		t.Fatalf("GarbageCollect: %v", err)
	}
	want := storage.GCResult{TokenSessions: 1, BrowserSessions: 1, SigningKeys: 1}
	if got != want {
		t.Fatalf("GarbageCollect = %+v, want %+v", got, want)
	}
	for _, sig := range []string{"edge", "new"} {
		if _, err := s.GetTokenSession(ctx, storage.KindAccessToken, sig); err != nil {
			t.Errorf("token %s: %v, want it kept", sig, err)
		}
	}
	ks, err := s.ListSigningKeys(ctx)
	if err != nil || len(ks) != 1 || ks[0].ID != "k2" || !ks[0].Active() {
		t.Fatalf("keys after GC: %+v, %v; want only the active k2", ks, err)
	}
}
