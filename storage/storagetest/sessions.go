package storagetest

import (
	"testing"
	"time"

	"github.com/qrid/qrid/storage"
)

func consentScenarios() []scenario {
	return []scenario{
		{"save_then_get", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			want := sampleConsent("u1", "c1", "openid", "profile", "offline_access")
			must(t, s.SaveConsent(t.Context(), want), "SaveConsent")
			got, err := s.GetConsent(t.Context(), "u1", "c1")
			must(t, err, "GetConsent")
			assertSame(t, "consent", want, got)
		}},
		{"save_replaces", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			must(t, s.SaveConsent(t.Context(), sampleConsent("u1", "c1", "openid", "profile", "email")), "SaveConsent first")
			want := sampleConsent("u1", "c1", "openid")
			want.GrantedAt = t0.Add(time.Hour)
			must(t, s.SaveConsent(t.Context(), want), "SaveConsent second")
			got, err := s.GetConsent(t.Context(), "u1", "c1")
			must(t, err, "GetConsent")
			assertSame(t, "consent", want, got)
		}},
		{"keyed_by_subject_and_client", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1", "c2"}, []string{"u1", "u2"})
			consents := []storage.Consent{
				sampleConsent("u1", "c1", "openid"),
				sampleConsent("u1", "c2", "openid", "email"),
				sampleConsent("u2", "c1", "openid", "profile"),
			}
			for _, c := range consents {
				must(t, s.SaveConsent(t.Context(), c), "SaveConsent "+c.Subject+" "+c.ClientID)
			}
			for _, want := range consents {
				got, err := s.GetConsent(t.Context(), want.Subject, want.ClientID)
				must(t, err, "GetConsent "+want.Subject+" "+want.ClientID)
				assertSame(t, "consent", want, got)
			}
			_, err := s.GetConsent(t.Context(), "u2", "c2")
			mustBe(t, err, storage.ErrNotFound, "GetConsent u2 c2")
		}},
		{"get_missing_not_found", func(t *testing.T, s storage.Storage) {
			_, err := s.GetConsent(t.Context(), "u1", "c1")
			mustBe(t, err, storage.ErrNotFound, "GetConsent")
		}},
		{"delete_removes_only_that_consent", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1", "c2"}, []string{"u1"})
			must(t, s.SaveConsent(t.Context(), sampleConsent("u1", "c1", "openid")), "SaveConsent c1")
			must(t, s.SaveConsent(t.Context(), sampleConsent("u1", "c2", "openid")), "SaveConsent c2")
			must(t, s.DeleteConsent(t.Context(), "u1", "c1"), "DeleteConsent")
			_, err := s.GetConsent(t.Context(), "u1", "c1")
			mustBe(t, err, storage.ErrNotFound, "GetConsent c1")
			_, err = s.GetConsent(t.Context(), "u1", "c2")
			must(t, err, "GetConsent c2")
		}},
		{"delete_missing_not_found", func(t *testing.T, s storage.Storage) {
			mustBe(t, s.DeleteConsent(t.Context(), "u1", "c1"), storage.ErrNotFound, "DeleteConsent")
		}},
		{"stored_values_are_copies", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			given := sampleConsent("u1", "c1", "openid", "email")
			must(t, s.SaveConsent(t.Context(), given), "SaveConsent")
			given.Scopes[0] = "changed-after-save"
			got, err := s.GetConsent(t.Context(), "u1", "c1")
			must(t, err, "GetConsent")
			got.Scopes[1] = "changed-after-get"
			again, err := s.GetConsent(t.Context(), "u1", "c1")
			must(t, err, "GetConsent again")
			assertSame(t, "consent", sampleConsent("u1", "c1", "openid", "email"), again)
		}},
	}
}

func browserSessionScenarios() []scenario {
	return []scenario{
		{"create_then_get", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, nil, []string{"u1"})
			want := sampleBrowserSession("b1", "u1")
			must(t, s.CreateBrowserSession(t.Context(), want), "CreateBrowserSession")
			got, err := s.GetBrowserSession(t.Context(), "b1")
			must(t, err, "GetBrowserSession")
			assertSame(t, "browser session", want, got)
		}},
		{"create_duplicate_conflicts", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, nil, []string{"u1", "u2"})
			want := sampleBrowserSession("b1", "u1")
			must(t, s.CreateBrowserSession(t.Context(), want), "CreateBrowserSession")
			mustBe(t, s.CreateBrowserSession(t.Context(), sampleBrowserSession("b1", "u2")), storage.ErrConflict, "CreateBrowserSession again")
			got, err := s.GetBrowserSession(t.Context(), "b1")
			must(t, err, "GetBrowserSession")
			assertSame(t, "browser session after conflict", want, got)
		}},
		{"get_returns_expired_session", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, nil, []string{"u1"})
			want := sampleBrowserSession("b1", "u1")
			want.CreatedAt = time.Now().Add(-2 * time.Hour)
			want.AuthTime = want.CreatedAt
			want.ExpiresAt = time.Now().Add(-time.Hour)
			must(t, s.CreateBrowserSession(t.Context(), want), "CreateBrowserSession")
			got, err := s.GetBrowserSession(t.Context(), "b1")
			must(t, err, "GetBrowserSession")
			assertSame(t, "expired browser session", want, got)
		}},
		{"get_missing_not_found", func(t *testing.T, s storage.Storage) {
			_, err := s.GetBrowserSession(t.Context(), "nope")
			mustBe(t, err, storage.ErrNotFound, "GetBrowserSession")
		}},
		{"delete_removes_only_that_session", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, nil, []string{"u1"})
			must(t, s.CreateBrowserSession(t.Context(), sampleBrowserSession("b1", "u1")), "CreateBrowserSession b1")
			must(t, s.CreateBrowserSession(t.Context(), sampleBrowserSession("b2", "u1")), "CreateBrowserSession b2")
			must(t, s.DeleteBrowserSession(t.Context(), "b1"), "DeleteBrowserSession")
			_, err := s.GetBrowserSession(t.Context(), "b1")
			mustBe(t, err, storage.ErrNotFound, "GetBrowserSession b1")
			_, err = s.GetBrowserSession(t.Context(), "b2")
			must(t, err, "GetBrowserSession b2")
		}},
		{"delete_missing_not_found", func(t *testing.T, s storage.Storage) {
			mustBe(t, s.DeleteBrowserSession(t.Context(), "nope"), storage.ErrNotFound, "DeleteBrowserSession")
		}},
		{"stored_values_are_copies", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, nil, []string{"u1"})
			given := sampleBrowserSession("b1", "u1")
			must(t, s.CreateBrowserSession(t.Context(), given), "CreateBrowserSession")
			given.AMR[0] = "changed-after-create"
			got, err := s.GetBrowserSession(t.Context(), "b1")
			must(t, err, "GetBrowserSession")
			got.AMR[1] = "changed-after-get"
			again, err := s.GetBrowserSession(t.Context(), "b1")
			must(t, err, "GetBrowserSession again")
			assertSame(t, "browser session", sampleBrowserSession("b1", "u1"), again)
		}},
	}
}
