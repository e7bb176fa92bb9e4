package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/qrid/qrid/storage"
)

func clientScenarios() []scenario {
	return []scenario{
		{"create_then_get", func(t *testing.T, s storage.Storage) {
			want := sampleClient("c1")
			mustCreateClient(t, s, want)
			got, err := s.GetClient(t.Context(), "c1")
			must(t, err, "GetClient")
			assertSame(t, "client", want, got)
		}},
		{"create_minimal_public_client_then_get", func(t *testing.T, s storage.Storage) {
			want := storage.Client{ID: "public", Name: "CLI", TokenEndpointAuthMethod: "none", CreatedAt: t0}
			mustCreateClient(t, s, want)
			got, err := s.GetClient(t.Context(), "public")
			must(t, err, "GetClient")
			assertSame(t, "client", want, got)
		}},
		{"create_duplicate_conflicts", func(t *testing.T, s storage.Storage) {
			want := sampleClient("c1")
			mustCreateClient(t, s, want)
			other := sampleClient("c1")
			other.Name = "impostor"
			mustBe(t, s.CreateClient(t.Context(), other), storage.ErrConflict, "CreateClient again")
			got, err := s.GetClient(t.Context(), "c1")
			must(t, err, "GetClient")
			assertSame(t, "client after conflict", want, got)
		}},
		{"get_missing_not_found", func(t *testing.T, s storage.Storage) {
			_, err := s.GetClient(t.Context(), "nope")
			mustBe(t, err, storage.ErrNotFound, "GetClient")
		}},
		{"list_empty", func(t *testing.T, s storage.Storage) {
			got, err := s.ListClients(t.Context())
			must(t, err, "ListClients")
			if len(got) != 0 {
				t.Fatalf("ListClients on an empty store returned %d clients", len(got))
			}
		}},
		{"list_orders_by_created_at_then_id", func(t *testing.T, s storage.Storage) {
			at := func(id string, created time.Time) storage.Client {
				c := sampleClient(id)
				c.CreatedAt = created
				return c
			}
			b, c, a, d := at("b", t0.Add(time.Hour)), at("c", t0), at("a", t0.Add(time.Hour)), at("d", t0.Add(-time.Microsecond))
			for _, cl := range []storage.Client{b, c, a, d} {
				mustCreateClient(t, s, cl)
			}
			got, err := s.ListClients(t.Context())
			must(t, err, "ListClients")
			assertSameList(t, "ListClients", []storage.Client{d, c, a, b}, got)
		}},
		{"update_stores_what_update_returns", func(t *testing.T, s storage.Storage) {
			mustCreateClient(t, s, sampleClient("c1"))
			want := storage.Client{
				ID:                       "c1",
				SecretDigest:             opaque("rotated"),
				Name:                     "Renamed",
				RedirectURIs:             []string{"https://new.example/cb"},
				PostLogoutRedirectURIs:   nil,
				GrantTypes:               []string{"client_credentials"},
				ResponseTypes:            []string{},
				Scopes:                   []string{"openid"},
				TokenEndpointAuthMethod:  "client_secret_post",
				LogoURI:                  "",
				ClientURI:                "https://new.example/",
				IDTokenSignedResponseAlg: "ES256",
				FirstParty:               false,
				CreatedAt:                t0,
				UpdatedAt:                t0.Add(48 * time.Hour),
			}
			returned, err := s.UpdateClient(t.Context(), "c1", func(old storage.Client) (storage.Client, error) {
				assertSame(t, "client given to update", sampleClient("c1"), old)
				return want, nil
			})
			must(t, err, "UpdateClient")
			assertSame(t, "client returned by UpdateClient", want, returned)
			got, err := s.GetClient(t.Context(), "c1")
			must(t, err, "GetClient")
			assertSame(t, "client after update", want, got)
		}},
		{"update_keeps_id_and_created_at", func(t *testing.T, s storage.Storage) {
			mustCreateClient(t, s, sampleClient("c1"))
			returned, err := s.UpdateClient(t.Context(), "c1", func(old storage.Client) (storage.Client, error) {
				old.ID = "c2"
				old.CreatedAt = t0.Add(365 * 24 * time.Hour)
				old.Name = "Renamed"
				return old, nil
			})
			must(t, err, "UpdateClient")
			want := sampleClient("c1")
			want.Name = "Renamed"
			assertSame(t, "client returned by UpdateClient", want, returned)
			got, err := s.GetClient(t.Context(), "c1")
			must(t, err, "GetClient c1")
			assertSame(t, "client after update", want, got)
			_, err = s.GetClient(t.Context(), "c2")
			mustBe(t, err, storage.ErrNotFound, "GetClient c2")
		}},
		{"update_error_leaves_client_unchanged", func(t *testing.T, s storage.Storage) {
			mustCreateClient(t, s, sampleClient("c1"))
			refused := errors.New("refused by update")
			_, err := s.UpdateClient(t.Context(), "c1", func(old storage.Client) (storage.Client, error) {
				// Scribble on what update was given before refusing: the store must
				// not share it.
				old.Name = "scribbled"
				old.RedirectURIs[0] = "https://scribbled.example/"
				old.SecretDigest[0] = 'X'
				return old, refused
			})
			mustBe(t, err, refused, "UpdateClient")
			got, err := s.GetClient(t.Context(), "c1")
			must(t, err, "GetClient")
			assertSame(t, "client after refused update", sampleClient("c1"), got)
		}},
		{"update_missing_not_found", func(t *testing.T, s storage.Storage) {
			called := false
			_, err := s.UpdateClient(t.Context(), "nope", func(old storage.Client) (storage.Client, error) {
				called = true
				return old, nil
			})
			mustBe(t, err, storage.ErrNotFound, "UpdateClient")
			if called {
				t.Error("update was called for a missing client")
			}
			_, err = s.GetClient(t.Context(), "nope")
			mustBe(t, err, storage.ErrNotFound, "GetClient")
		}},
		{"stored_values_are_copies", func(t *testing.T, s storage.Storage) {
			given := sampleClient("c1")
			mustCreateClient(t, s, given)
			given.RedirectURIs[0] = "https://changed-after-create.example/"
			given.SecretDigest[1] = 'X'
			got, err := s.GetClient(t.Context(), "c1")
			must(t, err, "GetClient")
			assertSame(t, "client after changing what was given", sampleClient("c1"), got)
			got.Scopes[0] = "changed-after-get"
			listed, err := s.ListClients(t.Context())
			must(t, err, "ListClients")
			listed[0].GrantTypes[0] = "changed-after-list"
			again, err := s.GetClient(t.Context(), "c1")
			must(t, err, "GetClient again")
			assertSame(t, "client after changing what was returned", sampleClient("c1"), again)
		}},
		{"delete_removes_client_tokens_and_consents", func(t *testing.T, s storage.Storage) {
			ctx := t.Context()
			mustCreateOwners(t, s, []string{"c1", "c2"}, []string{"u1"})
			mustCreateTokenSession(t, s, sampleTokenSession(storage.KindAccessToken, "a1", "r1", "c1", "u1"))
			mustCreateTokenSession(t, s, sampleTokenSession(storage.KindRefreshToken, "f1", "r1", "c1", "u1"))
			mustCreateTokenSession(t, s, sampleTokenSession(storage.KindAccessToken, "a2", "r2", "c2", "u1"))
			must(t, s.SaveConsent(ctx, sampleConsent("u1", "c1", "openid")), "SaveConsent c1")
			must(t, s.SaveConsent(ctx, sampleConsent("u1", "c2", "openid")), "SaveConsent c2")

			must(t, s.DeleteClient(ctx, "c1"), "DeleteClient")

			_, err := s.GetClient(ctx, "c1")
			mustBe(t, err, storage.ErrNotFound, "GetClient c1")
			assertTokenSessionGone(t, s, storage.KindAccessToken, "a1")
			assertTokenSessionGone(t, s, storage.KindRefreshToken, "f1")
			_, err = s.GetConsent(ctx, "u1", "c1")
			mustBe(t, err, storage.ErrNotFound, "GetConsent u1 c1")

			_, err = s.GetClient(ctx, "c2")
			must(t, err, "GetClient c2")
			assertTokenSessionKept(t, s, storage.KindAccessToken, "a2")
			_, err = s.GetConsent(ctx, "u1", "c2")
			must(t, err, "GetConsent u1 c2")
			_, err = s.GetUser(ctx, "u1")
			must(t, err, "GetUser u1")
		}},
		{"delete_missing_not_found", func(t *testing.T, s storage.Storage) {
			mustCreateClient(t, s, sampleClient("c1"))
			mustBe(t, s.DeleteClient(t.Context(), "nope"), storage.ErrNotFound, "DeleteClient")
			listed, err := s.ListClients(t.Context())
			must(t, err, "ListClients")
			assertSameList(t, "ListClients", []storage.Client{sampleClient("c1")}, listed)
		}},
		{"create_after_delete_succeeds", func(t *testing.T, s storage.Storage) {
			mustCreateClient(t, s, sampleClient("c1"))
			must(t, s.DeleteClient(t.Context(), "c1"), "DeleteClient")
			again := sampleClient("c1")
			again.Name = "Second life"
			mustCreateClient(t, s, again)
			got, err := s.GetClient(t.Context(), "c1")
			must(t, err, "GetClient")
			assertSame(t, "recreated client", again, got)
		}},
	}
}
