package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qrid/qrid/storage"
)

func transactionScenarios() []scenario {
	return []scenario{
		{"commit_keeps_every_write", func(t *testing.T, s storage.Storage) {
			seedEveryKind(t, s)
			before := describeState(t, s, t.Context())
			tx, err := s.BeginTX(t.Context())
			must(t, err, "BeginTX")
			writeEveryKind(t, s, tx)
			inside := describeState(t, s, tx)
			if slices.Equal(before, inside) {
				t.Fatal("the writes made inside the transaction are not visible inside it")
			}
			must(t, s.Commit(tx), "Commit")
			assertSameState(t, "state after Commit", inside, describeState(t, s, t.Context()))
		}},
		{"rollback_discards_every_write", func(t *testing.T, s storage.Storage) {
			seedEveryKind(t, s)
			before := describeState(t, s, t.Context())
			tx, err := s.BeginTX(t.Context())
			must(t, err, "BeginTX")
			writeEveryKind(t, s, tx)
			must(t, s.Rollback(tx), "Rollback")
			assertSameState(t, "state after Rollback", before, describeState(t, s, t.Context()))
			// The store takes writes again once the transaction has ended.
			mustCreateClient(t, s, sampleClient("after-rollback"))
		}},
		{"reads_inside_see_own_writes", func(t *testing.T, s storage.Storage) {
			tx, err := s.BeginTX(t.Context())
			must(t, err, "BeginTX")
			defer func() { _ = s.Rollback(tx) }()
			want := sampleClient("c1")
			must(t, s.CreateClient(tx, want), "CreateClient")
			got, err := s.GetClient(tx, "c1")
			must(t, err, "GetClient")
			assertSame(t, "client read inside the transaction", want, got)
			listed, err := s.ListClients(tx)
			must(t, err, "ListClients")
			assertSameList(t, "ListClients inside the transaction", []storage.Client{want}, listed)
		}},
		{"error_inside_then_rollback_discards_writes", func(t *testing.T, s storage.Storage) {
			mustCreateClient(t, s, sampleClient("c1"))
			tx, err := s.BeginTX(t.Context())
			must(t, err, "BeginTX")
			must(t, s.CreateClient(tx, sampleClient("c2")), "CreateClient c2")
			mustBe(t, s.CreateClient(tx, sampleClient("c1")), storage.ErrConflict, "CreateClient c1 again")
			must(t, s.Rollback(tx), "Rollback")
			_, err = s.GetClient(t.Context(), "c2")
			mustBe(t, err, storage.ErrNotFound, "GetClient c2")
		}},
		{"update_client_inside", func(t *testing.T, s storage.Storage) {
			mustCreateClient(t, s, sampleClient("c1"))
			for _, commit := range []bool{false, true} {
				tx, err := s.BeginTX(t.Context())
				must(t, err, "BeginTX")
				_, err = s.UpdateClient(tx, "c1", func(old storage.Client) (storage.Client, error) {
					old.Name = fmt.Sprintf("committed=%v", commit)
					return old, nil
				})
				must(t, err, "UpdateClient")
				if commit {
					must(t, s.Commit(tx), "Commit")
				} else {
					must(t, s.Rollback(tx), "Rollback")
				}
			}
			got, err := s.GetClient(t.Context(), "c1")
			must(t, err, "GetClient")
			if got.Name != "committed=true" {
				t.Errorf("client name: got %q, want the committed update", got.Name)
			}
		}},
		{"begin_inside_transaction_fails", func(t *testing.T, s storage.Storage) {
			tx, err := s.BeginTX(t.Context())
			must(t, err, "BeginTX")
			if _, err := s.BeginTX(tx); err == nil {
				t.Error("BeginTX on a context that carries a transaction succeeded")
			}
			// The refused BeginTX leaves the open transaction usable.
			must(t, s.CreateClient(tx, sampleClient("c1")), "CreateClient")
			must(t, s.Commit(tx), "Commit")
			_, err = s.GetClient(t.Context(), "c1")
			must(t, err, "GetClient")
		}},
		{"commit_or_rollback_without_transaction_fails", func(t *testing.T, s storage.Storage) {
			if err := s.Commit(t.Context()); err == nil {
				t.Error("Commit without a transaction succeeded")
			}
			if err := s.Rollback(t.Context()); err == nil {
				t.Error("Rollback without a transaction succeeded")
			}
		}},
		{"ended_transaction_cannot_end_again", func(t *testing.T, s storage.Storage) {
			tx, err := s.BeginTX(t.Context())
			must(t, err, "BeginTX")
			must(t, s.CreateClient(tx, sampleClient("c1")), "CreateClient")
			must(t, s.Commit(tx), "Commit")
			if err := s.Commit(tx); err == nil {
				t.Error("a second Commit succeeded")
			}
			_ = s.Rollback(tx) // Whatever it answers, it must not undo a commit.
			_, err = s.GetClient(t.Context(), "c1")
			must(t, err, "GetClient after Commit then Rollback")
		}},
	}
}

// seedEveryKind stores one or more objects of every kind for the transaction
// scenarios.
func seedEveryKind(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
	mustCreateTokenSession(t, s, sampleTokenSession(storage.KindRefreshToken, "f1", "r1", "c1", "u1"))
	mustCreateTokenSession(t, s, sampleTokenSession(storage.KindAccessToken, "a1", "r1", "c1", "u1"))
	mustCreateTokenSession(t, s, sampleTokenSession(storage.KindAuthorizeCode, "x1", "r0", "c1", "u1"))
	must(t, s.SaveConsent(ctx, sampleConsent("u1", "c1", "openid")), "SaveConsent")
	must(t, s.CreateBrowserSession(ctx, sampleBrowserSession("b1", "u1")), "CreateBrowserSession")
	must(t, s.CreateSigningKey(ctx, sampleSigningKey("k1", "ES256", t0)), "CreateSigningKey")
}

// writeEveryKind calls every write method with ctx, touching what seedEveryKind
// stored.
func writeEveryKind(t *testing.T, s storage.Storage, ctx context.Context) {
	must(t, s.CreateClient(ctx, sampleClient("c2")), "CreateClient c2")
	_, err := s.UpdateClient(ctx, "c1", func(old storage.Client) (storage.Client, error) {
		old.Name = "Renamed"
		old.RedirectURIs = append(old.RedirectURIs, "https://c1.example/new")
		return old, nil
	})
	must(t, err, "UpdateClient c1")
	must(t, s.CreateUser(ctx, sampleUser("u2")), "CreateUser u2")
	longLived := sampleTokenSession(storage.KindAccessToken, "a2", "r2", "c2", "u2")
	longLived.ExpiresAt = t0.Add(48 * time.Hour)
	must(t, s.CreateTokenSession(ctx, longLived), "CreateTokenSession a2")
	must(t, s.DeactivateTokenSession(ctx, storage.KindRefreshToken, "f1"), "DeactivateTokenSession f1")
	must(t, s.DeleteTokenSession(ctx, storage.KindAccessToken, "a1"), "DeleteTokenSession a1")
	must(t, s.SaveConsent(ctx, sampleConsent("u1", "c1", "openid", "email")), "SaveConsent u1 c1")
	must(t, s.SaveConsent(ctx, sampleConsent("u2", "c2", "openid")), "SaveConsent u2 c2")
	must(t, s.CreateBrowserSession(ctx, sampleBrowserSession("b2", "u2")), "CreateBrowserSession b2")
	must(t, s.CreateBrowserSession(ctx, sampleBrowserSession("b3", "u1")), "CreateBrowserSession b3")
	must(t, s.DeleteBrowserSession(ctx, "b1"), "DeleteBrowserSession b1")
	must(t, s.CreateSigningKey(ctx, sampleSigningKey("r1", "RS256", t0)), "CreateSigningKey r1")
	must(t, s.RotateSigningKey(ctx, sampleSigningKey("k2", "ES256", t0.Add(time.Hour)), t0, t0.Add(time.Hour)), "RotateSigningKey k2")
	must(t, s.DeleteTokenSessionsByRequestID(ctx, storage.KindRefreshToken, "r1"), "DeleteTokenSessionsByRequestID r1")
	must(t, s.DeleteConsent(ctx, "u2", "c2"), "DeleteConsent u2 c2")
	collected, err := s.GarbageCollect(ctx, t0.Add(2*time.Hour))
	must(t, err, "GarbageCollect")
	if want := (storage.GCResult{TokenSessions: 1, SigningKeys: 1}); collected != want {
		t.Fatalf("GarbageCollect inside the transaction counted %+v, want %+v", collected, want)
	}
	must(t, s.DeleteUser(ctx, "u1"), "DeleteUser u1")
	must(t, s.DeleteClient(ctx, "c2"), "DeleteClient c2")
}

// describeState renders everything the transaction scenarios touch, one line per
// object, so two states can be compared line by line.
func describeState(t *testing.T, s storage.Storage, ctx context.Context) []string {
	t.Helper()
	var lines []string
	clients, err := s.ListClients(ctx)
	must(t, err, "ListClients")
	lines = append(lines, describeAll(clients)...)
	users, err := s.ListUsers(ctx)
	must(t, err, "ListUsers")
	lines = append(lines, describeAll(users)...)
	keys, err := s.ListSigningKeys(ctx)
	must(t, err, "ListSigningKeys")
	lines = append(lines, describeAll(keys)...)
	lookup := func(what string, v any, err error) {
		switch {
		case errors.Is(err, storage.ErrNotFound):
			lines = append(lines, what+" not found")
		case err != nil:
			t.Fatalf("%s: %v", what, err)
		default:
			lines = append(lines, describe(v))
		}
	}
	for _, ref := range []struct {
		kind      storage.TokenKind
		signature string
	}{
		{storage.KindRefreshToken, "f1"},
		{storage.KindAccessToken, "a1"},
		{storage.KindAuthorizeCode, "x1"},
		{storage.KindAccessToken, "a2"},
	} {
		ts, err := s.GetTokenSession(ctx, ref.kind, ref.signature)
		lookup(fmt.Sprintf("TokenSession %s %s", ref.kind, ref.signature), ts, err)
	}
	for _, ref := range [][2]string{{"u1", "c1"}, {"u2", "c2"}} {
		c, err := s.GetConsent(ctx, ref[0], ref[1])
		lookup("Consent "+ref[0]+" "+ref[1], c, err)
	}
	for _, id := range []string{"b1", "b2", "b3"} {
		bs, err := s.GetBrowserSession(ctx, id)
		lookup("BrowserSession "+id, bs, err)
	}
	return lines
}

func assertSameState(t *testing.T, what string, want, got []string) {
	t.Helper()
	if !slices.Equal(want, got) {
		t.Errorf("%s:\nwant:\n  %s\ngot:\n  %s", what, strings.Join(want, "\n  "), strings.Join(got, "\n  "))
	}
}
