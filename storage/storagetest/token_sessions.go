package storagetest

import (
	"testing"

	"github.com/qrid/qrid/storage"
)

var allTokenKinds = []storage.TokenKind{
	storage.KindAuthorizeCode,
	storage.KindAccessToken,
	storage.KindRefreshToken,
	storage.KindPKCE,
	storage.KindOpenIDConnect,
}

func tokenSessionScenarios() []scenario {
	return []scenario{
		{"create_then_get_every_kind", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			for _, kind := range allTokenKinds {
				want := sampleTokenSession(kind, "sig-"+string(kind), "req-"+string(kind), "c1", "u1")
				mustCreateTokenSession(t, s, want)
				got, err := s.GetTokenSession(t.Context(), kind, want.Signature)
				must(t, err, "GetTokenSession "+string(kind))
				assertSame(t, string(kind)+" session", want, got)
			}
		}},
		{"create_inactive_without_subject_then_get", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, nil)
			want := sampleTokenSession(storage.KindAccessToken, "a1", "r1", "c1", "")
			want.Active = false
			want.Request = nil
			mustCreateTokenSession(t, s, want)
			got, err := s.GetTokenSession(t.Context(), storage.KindAccessToken, "a1")
			must(t, err, "GetTokenSession")
			assertSame(t, "session", want, got)
		}},
		{"create_duplicate_conflicts", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1", "u2"})
			want := sampleTokenSession(storage.KindRefreshToken, "f1", "r1", "c1", "u1")
			mustCreateTokenSession(t, s, want)
			other := sampleTokenSession(storage.KindRefreshToken, "f1", "r2", "c1", "u2")
			mustBe(t, s.CreateTokenSession(t.Context(), other), storage.ErrConflict, "CreateTokenSession again")
			got, err := s.GetTokenSession(t.Context(), storage.KindRefreshToken, "f1")
			must(t, err, "GetTokenSession")
			assertSame(t, "session after conflict", want, got)
		}},
		{"create_for_an_unknown_client_not_found", func(t *testing.T, s storage.Storage) {
			// The client was deleted meanwhile (on another node, say).
			mustCreateOwners(t, s, []string{"c1"}, nil)
			ts := sampleTokenSession(storage.KindAccessToken, "a1", "r1", "gone", "")
			mustBe(t, s.CreateTokenSession(t.Context(), ts), storage.ErrNotFound, "CreateTokenSession for an unknown client")
			_, err := s.GetTokenSession(t.Context(), storage.KindAccessToken, "a1")
			mustBe(t, err, storage.ErrNotFound, "GetTokenSession of the refused session")
		}},
		{"same_signature_other_kind_is_another_session", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			access := sampleTokenSession(storage.KindAccessToken, "same", "r1", "c1", "u1")
			refresh := sampleTokenSession(storage.KindRefreshToken, "same", "r2", "c1", "u1")
			mustCreateTokenSession(t, s, access)
			mustCreateTokenSession(t, s, refresh)
			got, err := s.GetTokenSession(t.Context(), storage.KindRefreshToken, "same")
			must(t, err, "GetTokenSession refresh")
			assertSame(t, "refresh session", refresh, got)
			got, err = s.GetTokenSession(t.Context(), storage.KindAccessToken, "same")
			must(t, err, "GetTokenSession access")
			assertSame(t, "access session", access, got)
		}},
		{"get_missing_not_found", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			mustCreateTokenSession(t, s, sampleTokenSession(storage.KindAccessToken, "a1", "r1", "c1", "u1"))
			_, err := s.GetTokenSession(t.Context(), storage.KindAccessToken, "nope")
			mustBe(t, err, storage.ErrNotFound, "GetTokenSession unknown signature")
			_, err = s.GetTokenSession(t.Context(), storage.KindRefreshToken, "a1")
			mustBe(t, err, storage.ErrNotFound, "GetTokenSession other kind")
		}},
		{"delete_removes_only_that_session", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			mustCreateTokenSession(t, s, sampleTokenSession(storage.KindAccessToken, "same", "r1", "c1", "u1"))
			mustCreateTokenSession(t, s, sampleTokenSession(storage.KindRefreshToken, "same", "r1", "c1", "u1"))
			mustCreateTokenSession(t, s, sampleTokenSession(storage.KindAccessToken, "other", "r1", "c1", "u1"))
			must(t, s.DeleteTokenSession(t.Context(), storage.KindAccessToken, "same"), "DeleteTokenSession")
			assertTokenSessionGone(t, s, storage.KindAccessToken, "same")
			assertTokenSessionKept(t, s, storage.KindRefreshToken, "same")
			assertTokenSessionKept(t, s, storage.KindAccessToken, "other")
		}},
		{"delete_missing_not_found", func(t *testing.T, s storage.Storage) {
			mustBe(t, s.DeleteTokenSession(t.Context(), storage.KindAccessToken, "nope"), storage.ErrNotFound, "DeleteTokenSession")
		}},
		{"delete_twice_not_found", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			mustCreateTokenSession(t, s, sampleTokenSession(storage.KindAuthorizeCode, "code", "r1", "c1", "u1"))
			must(t, s.DeleteTokenSession(t.Context(), storage.KindAuthorizeCode, "code"), "DeleteTokenSession")
			mustBe(t, s.DeleteTokenSession(t.Context(), storage.KindAuthorizeCode, "code"), storage.ErrNotFound, "DeleteTokenSession again")
		}},
		{"deactivate_keeps_other_fields", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			want := sampleTokenSession(storage.KindAuthorizeCode, "code", "r1", "c1", "u1")
			mustCreateTokenSession(t, s, want)
			must(t, s.DeactivateTokenSession(t.Context(), storage.KindAuthorizeCode, "code"), "DeactivateTokenSession")
			want.Active = false
			got, err := s.GetTokenSession(t.Context(), storage.KindAuthorizeCode, "code")
			must(t, err, "GetTokenSession")
			assertSame(t, "deactivated session", want, got)
		}},
		{"deactivate_twice_conflicts", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			mustCreateTokenSession(t, s, sampleTokenSession(storage.KindRefreshToken, "f1", "r1", "c1", "u1"))
			must(t, s.DeactivateTokenSession(t.Context(), storage.KindRefreshToken, "f1"), "DeactivateTokenSession")
			mustBe(t, s.DeactivateTokenSession(t.Context(), storage.KindRefreshToken, "f1"), storage.ErrConflict, "DeactivateTokenSession again")
		}},
		{"deactivate_inactive_conflicts", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			inactive := sampleTokenSession(storage.KindRefreshToken, "f1", "r1", "c1", "u1")
			inactive.Active = false
			mustCreateTokenSession(t, s, inactive)
			mustBe(t, s.DeactivateTokenSession(t.Context(), storage.KindRefreshToken, "f1"), storage.ErrConflict, "DeactivateTokenSession")
		}},
		{"deactivate_missing_not_found", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			mustCreateTokenSession(t, s, sampleTokenSession(storage.KindAccessToken, "f1", "r1", "c1", "u1"))
			mustBe(t, s.DeactivateTokenSession(t.Context(), storage.KindRefreshToken, "f1"), storage.ErrNotFound, "DeactivateTokenSession other kind")
			mustBe(t, s.DeactivateTokenSession(t.Context(), storage.KindAccessToken, "nope"), storage.ErrNotFound, "DeactivateTokenSession unknown signature")
		}},
		{"delete_by_request_id_only_touches_that_kind_and_request", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			rotated := sampleTokenSession(storage.KindRefreshToken, "f1", "chain", "c1", "u1")
			rotated.Active = false
			mustCreateTokenSession(t, s, rotated)
			mustCreateTokenSession(t, s, sampleTokenSession(storage.KindRefreshToken, "f2", "chain", "c1", "u1"))
			mustCreateTokenSession(t, s, sampleTokenSession(storage.KindAccessToken, "a1", "chain", "c1", "u1"))
			mustCreateTokenSession(t, s, sampleTokenSession(storage.KindRefreshToken, "f3", "other-chain", "c1", "u1"))

			must(t, s.DeleteTokenSessionsByRequestID(t.Context(), storage.KindRefreshToken, "chain"), "DeleteTokenSessionsByRequestID")

			assertTokenSessionGone(t, s, storage.KindRefreshToken, "f1")
			assertTokenSessionGone(t, s, storage.KindRefreshToken, "f2")
			assertTokenSessionKept(t, s, storage.KindAccessToken, "a1")
			assertTokenSessionKept(t, s, storage.KindRefreshToken, "f3")
		}},
		{"delete_by_request_id_without_sessions_succeeds", func(t *testing.T, s storage.Storage) {
			must(t, s.DeleteTokenSessionsByRequestID(t.Context(), storage.KindAccessToken, "nothing"), "DeleteTokenSessionsByRequestID")
		}},
		{"create_after_delete_succeeds", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			mustCreateTokenSession(t, s, sampleTokenSession(storage.KindAccessToken, "a1", "r1", "c1", "u1"))
			must(t, s.DeleteTokenSessionsByRequestID(t.Context(), storage.KindAccessToken, "r1"), "DeleteTokenSessionsByRequestID")
			again := sampleTokenSession(storage.KindAccessToken, "a1", "r2", "c1", "u1")
			mustCreateTokenSession(t, s, again)
			must(t, s.DeleteTokenSessionsByRequestID(t.Context(), storage.KindAccessToken, "r1"), "DeleteTokenSessionsByRequestID old request")
			got, err := s.GetTokenSession(t.Context(), storage.KindAccessToken, "a1")
			must(t, err, "GetTokenSession")
			assertSame(t, "recreated session", again, got)
		}},
		{"stored_values_are_copies", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			given := sampleTokenSession(storage.KindAccessToken, "a1", "r1", "c1", "u1")
			mustCreateTokenSession(t, s, given)
			given.Request[0] = 'X'
			got, err := s.GetTokenSession(t.Context(), storage.KindAccessToken, "a1")
			must(t, err, "GetTokenSession")
			got.Request[1] = 'Y'
			again, err := s.GetTokenSession(t.Context(), storage.KindAccessToken, "a1")
			must(t, err, "GetTokenSession again")
			assertSame(t, "session", sampleTokenSession(storage.KindAccessToken, "a1", "r1", "c1", "u1"), again)
		}},
	}
}
