package storagetest

import (
	"testing"
	"time"

	"github.com/qrid/qrid/storage"
)

func userScenarios() []scenario {
	return []scenario{
		{"create_then_get", func(t *testing.T, s storage.Storage) {
			want := sampleUser("u1")
			mustCreateUser(t, s, want)
			got, err := s.GetUser(t.Context(), "u1")
			must(t, err, "GetUser")
			assertSame(t, "user", want, got)
		}},
		{"get_by_username", func(t *testing.T, s storage.Storage) {
			want := sampleUser("u1")
			mustCreateUser(t, s, want)
			mustCreateUser(t, s, sampleUser("u2"))
			got, err := s.GetUserByUsername(t.Context(), "user-u1")
			must(t, err, "GetUserByUsername")
			assertSame(t, "user", want, got)
		}},
		{"get_by_username_matches_exactly", func(t *testing.T, s storage.Storage) {
			mustCreateUser(t, s, sampleUser("u1"))
			for _, username := range []string{"User-u1", "user-u1 ", "user-u", "user-u1x", ""} {
				_, err := s.GetUserByUsername(t.Context(), username)
				mustBe(t, err, storage.ErrNotFound, "GetUserByUsername "+username)
			}
		}},
		{"create_duplicate_id_conflicts", func(t *testing.T, s storage.Storage) {
			mustCreateUser(t, s, sampleUser("u1"))
			other := sampleUser("u1")
			other.Username = "someone-else"
			mustBe(t, s.CreateUser(t.Context(), other), storage.ErrConflict, "CreateUser same ID")
			got, err := s.GetUser(t.Context(), "u1")
			must(t, err, "GetUser")
			assertSame(t, "user after conflict", sampleUser("u1"), got)
			_, err = s.GetUserByUsername(t.Context(), "someone-else")
			mustBe(t, err, storage.ErrNotFound, "GetUserByUsername someone-else")
		}},
		{"create_duplicate_username_conflicts", func(t *testing.T, s storage.Storage) {
			mustCreateUser(t, s, sampleUser("u1"))
			other := sampleUser("u2")
			other.Username = "user-u1"
			mustBe(t, s.CreateUser(t.Context(), other), storage.ErrConflict, "CreateUser same username")
			_, err := s.GetUser(t.Context(), "u2")
			mustBe(t, err, storage.ErrNotFound, "GetUser u2")
			got, err := s.GetUserByUsername(t.Context(), "user-u1")
			must(t, err, "GetUserByUsername")
			assertSame(t, "user after conflict", sampleUser("u1"), got)
		}},
		{"get_missing_not_found", func(t *testing.T, s storage.Storage) {
			_, err := s.GetUser(t.Context(), "nope")
			mustBe(t, err, storage.ErrNotFound, "GetUser")
			_, err = s.GetUserByUsername(t.Context(), "nope")
			mustBe(t, err, storage.ErrNotFound, "GetUserByUsername")
		}},
		{"list_empty", func(t *testing.T, s storage.Storage) {
			got, err := s.ListUsers(t.Context())
			must(t, err, "ListUsers")
			if len(got) != 0 {
				t.Fatalf("ListUsers on an empty store returned %d users", len(got))
			}
		}},
		{"list_orders_by_created_at_then_id", func(t *testing.T, s storage.Storage) {
			at := func(id string, created time.Time) storage.User {
				u := sampleUser(id)
				u.CreatedAt = created
				return u
			}
			b, c, a, d := at("b", t0.Add(time.Hour)), at("c", t0), at("a", t0.Add(time.Hour)), at("d", t0.Add(-time.Microsecond))
			for _, u := range []storage.User{b, c, a, d} {
				mustCreateUser(t, s, u)
			}
			got, err := s.ListUsers(t.Context())
			must(t, err, "ListUsers")
			assertSameList(t, "ListUsers", []storage.User{d, c, a, b}, got)
		}},
		{"delete_removes_user_consents_browser_sessions_and_tokens", func(t *testing.T, s storage.Storage) {
			ctx := t.Context()
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1", "u2"})
			mustCreateTokenSession(t, s, sampleTokenSession(storage.KindAccessToken, "a1", "r1", "c1", "u1"))
			mustCreateTokenSession(t, s, sampleTokenSession(storage.KindOpenIDConnect, "o1", "r1", "c1", "u1"))
			mustCreateTokenSession(t, s, sampleTokenSession(storage.KindAccessToken, "a2", "r2", "c1", "u2"))
			must(t, s.SaveConsent(ctx, sampleConsent("u1", "c1", "openid")), "SaveConsent u1")
			must(t, s.SaveConsent(ctx, sampleConsent("u2", "c1", "openid")), "SaveConsent u2")
			must(t, s.CreateBrowserSession(ctx, sampleBrowserSession("b1", "u1")), "CreateBrowserSession b1")
			must(t, s.CreateBrowserSession(ctx, sampleBrowserSession("b2", "u2")), "CreateBrowserSession b2")

			must(t, s.DeleteUser(ctx, "u1"), "DeleteUser")

			_, err := s.GetUser(ctx, "u1")
			mustBe(t, err, storage.ErrNotFound, "GetUser u1")
			_, err = s.GetUserByUsername(ctx, "user-u1")
			mustBe(t, err, storage.ErrNotFound, "GetUserByUsername user-u1")
			assertTokenSessionGone(t, s, storage.KindAccessToken, "a1")
			assertTokenSessionGone(t, s, storage.KindOpenIDConnect, "o1")
			_, err = s.GetConsent(ctx, "u1", "c1")
			mustBe(t, err, storage.ErrNotFound, "GetConsent u1")
			_, err = s.GetBrowserSession(ctx, "b1")
			mustBe(t, err, storage.ErrNotFound, "GetBrowserSession b1")

			_, err = s.GetUser(ctx, "u2")
			must(t, err, "GetUser u2")
			assertTokenSessionKept(t, s, storage.KindAccessToken, "a2")
			_, err = s.GetConsent(ctx, "u2", "c1")
			must(t, err, "GetConsent u2")
			_, err = s.GetBrowserSession(ctx, "b2")
			must(t, err, "GetBrowserSession b2")
			_, err = s.GetClient(ctx, "c1")
			must(t, err, "GetClient c1")
		}},
		{"delete_frees_username", func(t *testing.T, s storage.Storage) {
			mustCreateUser(t, s, sampleUser("u1"))
			must(t, s.DeleteUser(t.Context(), "u1"), "DeleteUser")
			successor := sampleUser("u2")
			successor.Username = "user-u1"
			mustCreateUser(t, s, successor)
			got, err := s.GetUserByUsername(t.Context(), "user-u1")
			must(t, err, "GetUserByUsername")
			assertSame(t, "user", successor, got)
		}},
		{"delete_missing_not_found", func(t *testing.T, s storage.Storage) {
			mustCreateUser(t, s, sampleUser("u1"))
			mustBe(t, s.DeleteUser(t.Context(), "nope"), storage.ErrNotFound, "DeleteUser")
			listed, err := s.ListUsers(t.Context())
			must(t, err, "ListUsers")
			assertSameList(t, "ListUsers", []storage.User{sampleUser("u1")}, listed)
		}},
	}
}
