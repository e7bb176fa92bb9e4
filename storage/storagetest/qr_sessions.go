package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/qrid/qrid/storage"
)

// sampleQRSession returns a pending device session of clientID with every field a
// device authorization sets; its digests are derived from id.
func sampleQRSession(id, clientID string) storage.QRSession {
	return storage.QRSession{
		ID:                 id,
		Kind:               "device",
		DeviceCodeDigest:   "device-code-" + id,
		UserCodeDigest:     "user-code-" + id,
		ClientID:           clientID,
		Scopes:             []string{"openid", "profile", "offline_access"},
		State:              storage.QRPending,
		MatchCode:          "42",
		MatchChoices:       []string{"17", "42", "93"},
		Interval:           5,
		RequesterIP:        "203.0.113.7",
		RequesterUserAgent: "Mozilla/5.0 (SMART-TV; « salon »)",
		CreatedAt:          t0,
		ExpiresAt:          t0.Add(5 * time.Minute),
		Version:            1,
	}
}

// sampleDecidedQRSession returns a web session with every field set, as it is once
// scanned and refused.
func sampleDecidedQRSession(id, clientID, accountID string) storage.QRSession {
	qs := sampleQRSession(id, clientID)
	qs.Kind = "web"
	qs.BrowserBinding = "browser-" + id
	qs.State = storage.QRDenied
	qs.AccountID = accountID
	qs.DeviceID = "phone-" + accountID
	qs.ConfirmTokenDigest = "confirm-" + id
	qs.ConfirmExpiresAt = t0.Add(time.Minute)
	qs.ScannedAt = t0.Add(time.Second)
	qs.DecidedAt = t0.Add(2 * time.Second)
	qs.DenyReason = "wrong_match"
	return qs
}

func mustCreateQRSession(t testing.TB, s storage.Storage, qs storage.QRSession) {
	t.Helper()
	must(t, s.CreateQRSession(t.Context(), qs), "CreateQRSession "+qs.ID)
}

// assertQRSessionStored fails t unless want is found by its ID and by each of its
// non-empty digests.
func assertQRSessionStored(t testing.TB, s storage.Storage, want storage.QRSession) {
	t.Helper()
	ctx := t.Context()
	got, err := s.GetQRSession(ctx, want.ID)
	must(t, err, "GetQRSession "+want.ID)
	assertSame(t, "QR session "+want.ID, want, got)
	for _, lookup := range qrLookups(t, s) {
		digest := lookup.digest(want)
		if digest == "" {
			continue
		}
		got, err := lookup.get(digest)
		must(t, err, lookup.name+" "+digest)
		assertSame(t, "QR session found by "+lookup.name, want, got)
	}
}

// assertQRSessionGone fails t unless qs is found neither by its ID nor by any of
// its digests.
func assertQRSessionGone(t testing.TB, s storage.Storage, qs storage.QRSession) {
	t.Helper()
	_, err := s.GetQRSession(t.Context(), qs.ID)
	mustBe(t, err, storage.ErrNotFound, "GetQRSession "+qs.ID)
	for _, lookup := range qrLookups(t, s) {
		if digest := lookup.digest(qs); digest != "" {
			_, err := lookup.get(digest)
			mustBe(t, err, storage.ErrNotFound, lookup.name+" "+digest)
		}
	}
}

type qrLookup struct {
	name   string
	digest func(storage.QRSession) string
	get    func(digest string) (storage.QRSession, error)
}

// qrLookups lists the digest lookups of QR sessions, made with t's context.
func qrLookups(t testing.TB, s storage.Storage) []qrLookup {
	ctx := t.Context()
	return []qrLookup{
		{"GetQRSessionByDeviceCode", func(qs storage.QRSession) string { return qs.DeviceCodeDigest },
			func(d string) (storage.QRSession, error) { return s.GetQRSessionByDeviceCode(ctx, d) }},
		{"GetQRSessionByUserCode", func(qs storage.QRSession) string { return qs.UserCodeDigest },
			func(d string) (storage.QRSession, error) { return s.GetQRSessionByUserCode(ctx, d) }},
		{"GetQRSessionByConfirmToken", func(qs storage.QRSession) string { return qs.ConfirmTokenDigest },
			func(d string) (storage.QRSession, error) { return s.GetQRSessionByConfirmToken(ctx, d) }},
	}
}

// errStateMoved is what the updates of the concurrency scenarios return when the
// session is no longer in the state they expect.
var errStateMoved = errors.New("the QR session is no longer scanned")

func qrSessionScenarios() []scenario {
	return []scenario{
		{"create_then_get_by_id_and_each_digest", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			pending, decided := sampleQRSession("q1", "c1"), sampleDecidedQRSession("q2", "c1", "u1")
			mustCreateQRSession(t, s, pending)
			mustCreateQRSession(t, s, decided)
			assertQRSessionStored(t, s, pending)
			assertQRSessionStored(t, s, decided)
		}},
		{"create_sets_version_1", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, nil)
			given := sampleQRSession("q1", "c1")
			given.Version = 42
			mustCreateQRSession(t, s, given)
			got, err := s.GetQRSession(t.Context(), "q1")
			must(t, err, "GetQRSession")
			if got.Version != 1 {
				t.Errorf("Version = %d after create, want 1", got.Version)
			}
		}},
		{"create_duplicate_id_or_digest_conflicts", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			first := sampleDecidedQRSession("q1", "c1", "u1")
			mustCreateQRSession(t, s, first)
			for _, clash := range []struct {
				name  string
				apply func(qs *storage.QRSession)
			}{
				{"id", func(qs *storage.QRSession) { qs.ID = first.ID }},
				{"device_code", func(qs *storage.QRSession) { qs.DeviceCodeDigest = first.DeviceCodeDigest }},
				{"user_code", func(qs *storage.QRSession) { qs.UserCodeDigest = first.UserCodeDigest }},
				{"confirm_token", func(qs *storage.QRSession) { qs.ConfirmTokenDigest = first.ConfirmTokenDigest }},
			} {
				other := sampleDecidedQRSession("q2", "c1", "u1")
				clash.apply(&other)
				mustBe(t, s.CreateQRSession(t.Context(), other), storage.ErrConflict, "CreateQRSession with the same "+clash.name)
				assertQRSessionStored(t, s, first)
				assertQRSessionGone(t, s, sampleDecidedQRSession("q2", "c1", "u1"))
			}
		}},
		{"empty_digests_are_not_unique_and_never_found", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, nil)
			for _, id := range []string{"w1", "w2"} {
				web := sampleQRSession(id, "c1")
				web.Kind, web.DeviceCodeDigest, web.UserCodeDigest = "web", "", ""
				web.BrowserBinding = "browser-" + id
				mustCreateQRSession(t, s, web)
				assertQRSessionStored(t, s, web)
			}
			for _, lookup := range qrLookups(t, s) {
				_, err := lookup.get("")
				mustBe(t, err, storage.ErrNotFound, lookup.name+" of the empty digest")
			}
		}},
		{"create_for_unknown_client_not_found", func(t *testing.T, s storage.Storage) {
			mustBe(t, s.CreateQRSession(t.Context(), sampleQRSession("q1", "nobody")), storage.ErrNotFound, "CreateQRSession")
			assertQRSessionGone(t, s, sampleQRSession("q1", "nobody"))
		}},
		{"create_with_unknown_state_fails", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, nil)
			qs := sampleQRSession("q1", "c1")
			qs.State = "expired"
			if err := s.CreateQRSession(t.Context(), qs); err == nil {
				t.Fatal("CreateQRSession with state \"expired\" succeeded")
			}
			assertQRSessionGone(t, s, qs)
		}},
		{"get_missing_not_found", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, nil)
			mustCreateQRSession(t, s, sampleQRSession("q1", "c1"))
			assertQRSessionGone(t, s, sampleDecidedQRSession("nope", "c1", "u1"))
		}},
		{"update_stores_every_field", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			original := sampleQRSession("q1", "c1")
			mustCreateQRSession(t, s, original)
			want := storage.QRSession{
				ID:                 "q1",
				Kind:               "device",
				DeviceCodeDigest:   original.DeviceCodeDigest,
				UserCodeDigest:     original.UserCodeDigest,
				ClientID:           "c1",
				Scopes:             []string{"openid"},
				State:              storage.QRApproved,
				MatchCode:          "",
				MatchChoices:       nil,
				Interval:           10,
				RequesterIP:        "2001:db8::1",
				RequesterUserAgent: "curl/8.0",
				BrowserBinding:     "bound-later",
				CreatedAt:          t0,
				ExpiresAt:          t0.Add(10 * time.Minute),
				AccountID:          "u1",
				DeviceID:           "phone-1",
				ConfirmTokenDigest: "confirm-1",
				ConfirmExpiresAt:   t0.Add(time.Minute),
				ScannedAt:          t0.Add(3 * time.Second),
				DecidedAt:          t0.Add(9 * time.Second),
				DenyReason:         "none",
				Version:            2,
			}
			returned, err := s.UpdateQRSession(t.Context(), "q1", func(old storage.QRSession) (storage.QRSession, error) {
				assertSame(t, "QR session given to update", original, old)
				return want, nil
			})
			must(t, err, "UpdateQRSession")
			assertSame(t, "QR session returned by UpdateQRSession", want, returned)
			assertQRSessionStored(t, s, want)

			// And back to empty and zero values.
			back := original
			back.Version = 3
			returned, err = s.UpdateQRSession(t.Context(), "q1", func(storage.QRSession) (storage.QRSession, error) {
				return original, nil
			})
			must(t, err, "UpdateQRSession back")
			assertSame(t, "QR session returned by the second UpdateQRSession", back, returned)
			assertQRSessionStored(t, s, back)
			_, err = s.GetQRSessionByConfirmToken(t.Context(), "confirm-1")
			mustBe(t, err, storage.ErrNotFound, "GetQRSessionByConfirmToken of the cleared token")
		}},
		{"update_increments_version", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, nil)
			mustCreateQRSession(t, s, sampleQRSession("q1", "c1"))
			for want := int64(2); want <= 4; want++ {
				returned, err := s.UpdateQRSession(t.Context(), "q1", func(old storage.QRSession) (storage.QRSession, error) {
					if old.Version != want-1 {
						t.Errorf("update was given Version %d, want %d", old.Version, want-1)
					}
					old.Version = 1000 // Only the store advances the version.
					return old, nil
				})
				must(t, err, "UpdateQRSession")
				got, err := s.GetQRSession(t.Context(), "q1")
				must(t, err, "GetQRSession")
				if returned.Version != want || got.Version != want {
					t.Fatalf("after update %d: returned Version %d, stored Version %d, want %d", want-1, returned.Version, got.Version, want)
				}
			}
		}},
		{"update_error_changes_nothing", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, nil)
			mustCreateQRSession(t, s, sampleQRSession("q1", "c1"))
			refused := errors.New("refused by update")
			_, err := s.UpdateQRSession(t.Context(), "q1", func(old storage.QRSession) (storage.QRSession, error) {
				old.State = storage.QRDenied
				old.ConfirmTokenDigest = "confirm-1"
				return old, refused
			})
			mustBe(t, err, refused, "UpdateQRSession")
			assertQRSessionStored(t, s, sampleQRSession("q1", "c1"))
			_, err = s.GetQRSessionByConfirmToken(t.Context(), "confirm-1")
			mustBe(t, err, storage.ErrNotFound, "GetQRSessionByConfirmToken")
		}},
		{"update_to_unknown_state_fails_and_changes_nothing", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, nil)
			mustCreateQRSession(t, s, sampleQRSession("q1", "c1"))
			_, err := s.UpdateQRSession(t.Context(), "q1", func(old storage.QRSession) (storage.QRSession, error) {
				old.State = "expired"
				return old, nil
			})
			if err == nil {
				t.Fatal("UpdateQRSession to state \"expired\" succeeded")
			}
			assertQRSessionStored(t, s, sampleQRSession("q1", "c1"))
		}},
		{"update_keeps_immutable_fields", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1", "c2"}, nil)
			mustCreateQRSession(t, s, sampleQRSession("q1", "c1"))
			returned, err := s.UpdateQRSession(t.Context(), "q1", func(old storage.QRSession) (storage.QRSession, error) {
				old.ID = "q2"
				old.Kind = "web"
				old.DeviceCodeDigest = "device-code-other"
				old.UserCodeDigest = "user-code-other"
				old.ClientID = "c2"
				old.CreatedAt = t0.Add(24 * time.Hour)
				old.State = storage.QRScanned
				return old, nil
			})
			must(t, err, "UpdateQRSession")
			want := sampleQRSession("q1", "c1")
			want.State = storage.QRScanned
			want.Version = 2
			assertSame(t, "QR session returned by UpdateQRSession", want, returned)
			assertQRSessionStored(t, s, want)
			assertQRSessionGone(t, s, storage.QRSession{ID: "q2", DeviceCodeDigest: "device-code-other", UserCodeDigest: "user-code-other"})
			n, err := s.CountPendingQRSessions(t.Context(), "c2", t0)
			must(t, err, "CountPendingQRSessions c2")
			if n != 0 {
				t.Errorf("c2 has %d pending sessions, want 0", n)
			}
		}},
		{"create_capped_counts_open_unexpired_sessions_of_the_client", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1", "c2"}, []string{"u1"})
			mustCreateQRSession(t, s, sampleQRSession("open-1", "c1"))
			scanned := sampleQRSession("open-2", "c1")
			scanned.State = storage.QRScanned
			mustCreateQRSession(t, s, scanned)
			expired := sampleQRSession("expired", "c1")
			expired.ExpiresAt = t0.Add(-time.Second)
			mustCreateQRSession(t, s, expired)
			mustCreateQRSession(t, s, sampleDecidedQRSession("decided", "c1", "u1"))
			mustCreateQRSession(t, s, sampleQRSession("other-client", "c2"))

			third := sampleQRSession("third", "c1")
			mustBe(t, s.CreateQRSessionCapped(t.Context(), third, 2), storage.ErrTooMany, "CreateQRSessionCapped over the cap")
			assertQRSessionGone(t, s, third)
			must(t, s.CreateQRSessionCapped(t.Context(), third, 3), "CreateQRSessionCapped under the cap")
			assertQRSessionStored(t, s, third)
			fourth := sampleQRSession("fourth", "c1")
			must(t, s.CreateQRSessionCapped(t.Context(), fourth, 0), "CreateQRSessionCapped without a cap")
			assertQRSessionStored(t, s, fourth)
			mustBe(t, s.CreateQRSessionCapped(t.Context(), sampleQRSession("third", "c1"), 100), storage.ErrConflict, "CreateQRSessionCapped of a taken ID")
		}},
		{"swap_stores_and_appends_audit_events", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1", "c2"}, nil)
			old := sampleQRSession("q1", "c1")
			mustCreateQRSession(t, s, old)
			next := old
			next.State = storage.QRScanned
			next.AccountID, next.DeviceID = "u1", "phone-1"
			next.ConfirmTokenDigest, next.ConfirmExpiresAt = "confirm-1", t0.Add(time.Minute)
			next.ScannedAt = t0.Add(2 * time.Second)
			// Immutable fields and the version are the store's.
			moved := next
			moved.ClientID, moved.DeviceCodeDigest, moved.Version = "c2", "device-code-other", 99
			e1 := sampleAuditEvent("1", t0.Add(2*time.Second), "qr.scanned", "u1")
			e2 := sampleAuditEvent("2", t0.Add(2*time.Second), "qr.contested", "u1")
			returned, err := s.SwapQRSession(t.Context(), old, moved, e1, e2)
			must(t, err, "SwapQRSession")
			want := next
			want.Version = 2
			assertSame(t, "QR session returned by SwapQRSession", want, returned)
			assertQRSessionStored(t, s, want)
			got, err := s.GetQRSessionByConfirmToken(t.Context(), "confirm-1")
			must(t, err, "GetQRSessionByConfirmToken")
			assertSame(t, "QR session by its new confirm token", want, got)
			assertAuditEvents(t, s, storage.AuditQuery{}, e2, e1)

			// Without events.
			again := want
			again.State = storage.QRApproved
			returned, err = s.SwapQRSession(t.Context(), want, again)
			must(t, err, "SwapQRSession without events")
			if returned.Version != 3 || returned.State != storage.QRApproved {
				t.Errorf("second swap returned version %d, state %s", returned.Version, returned.State)
			}
			assertAuditEvents(t, s, storage.AuditQuery{}, e2, e1)
		}},
		{"swap_of_a_stale_version_conflicts_and_changes_nothing", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, nil)
			old := sampleQRSession("q1", "c1")
			mustCreateQRSession(t, s, old)
			first := old
			first.State = storage.QRScanned
			stored, err := s.SwapQRSession(t.Context(), old, first)
			must(t, err, "SwapQRSession")
			second := old
			second.State = storage.QRDenied
			_, err = s.SwapQRSession(t.Context(), old, second, sampleAuditEvent("1", t0, "qr.denied", "u1"))
			mustBe(t, err, storage.ErrConflict, "SwapQRSession of version 1 after version 2")
			assertQRSessionStored(t, s, stored)
			assertAuditEvents(t, s, storage.AuditQuery{})
		}},
		{"swap_missing_not_found", func(t *testing.T, s storage.Storage) {
			_, err := s.SwapQRSession(t.Context(), sampleQRSession("nope", "c1"), sampleQRSession("nope", "c1"),
				sampleAuditEvent("1", t0, "qr.scanned", "u1"))
			mustBe(t, err, storage.ErrNotFound, "SwapQRSession")
			assertAuditEvents(t, s, storage.AuditQuery{})
		}},
		{"swap_to_taken_confirm_token_conflicts", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			first := sampleDecidedQRSession("q1", "c1", "u1")
			mustCreateQRSession(t, s, first)
			old := sampleQRSession("q2", "c1")
			mustCreateQRSession(t, s, old)
			next := old
			next.State = storage.QRScanned
			next.ConfirmTokenDigest = first.ConfirmTokenDigest
			_, err := s.SwapQRSession(t.Context(), old, next, sampleAuditEvent("1", t0, "qr.scanned", "u1"))
			mustBe(t, err, storage.ErrConflict, "SwapQRSession")
			assertQRSessionStored(t, s, old)
			assertAuditEvents(t, s, storage.AuditQuery{})
		}},
		{"concurrent_swaps_of_one_version_one_wins", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, nil)
			old := sampleQRSession("q1", "c1")
			mustCreateQRSession(t, s, old)
			const n = 50
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					next := old
					next.State = storage.QRScanned
					next.DeviceID = fmt.Sprint("phone-", i)
					_, errs[i] = s.SwapQRSession(t.Context(), old, next, sampleAuditEvent(fmt.Sprint(i), t0, "qr.scanned", "u1"))
				}()
			}
			wg.Wait()
			winners := 0
			for i, err := range errs {
				switch {
				case err == nil:
					winners++
				case !errors.Is(err, storage.ErrConflict):
					t.Errorf("swap %d: %v, want nil or ErrConflict", i, err)
				}
			}
			if winners != 1 {
				t.Fatalf("%d of %d concurrent swaps of version 1 won, want 1", winners, n)
			}
			got, err := s.GetQRSession(t.Context(), "q1")
			must(t, err, "GetQRSession")
			if got.Version != 2 {
				t.Errorf("version after the swaps = %d, want 2", got.Version)
			}
			events, err := s.ListAuditEvents(t.Context(), storage.AuditQuery{})
			must(t, err, "ListAuditEvents")
			if len(events) != 1 || events[0].DeviceID != "device-"+events[0].ID || got.DeviceID != "phone-"+events[0].ID {
				t.Errorf("stored %d audit events (%+v) for the winner %s, want exactly the winner's", len(events), events, got.DeviceID)
			}
		}},
		{"update_missing_not_found", func(t *testing.T, s storage.Storage) {
			called := false
			_, err := s.UpdateQRSession(t.Context(), "nope", func(old storage.QRSession) (storage.QRSession, error) {
				called = true
				return old, nil
			})
			mustBe(t, err, storage.ErrNotFound, "UpdateQRSession")
			if called {
				t.Error("update was called for a missing session")
			}
		}},
		{"update_to_taken_confirm_token_conflicts", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			first := sampleDecidedQRSession("q1", "c1", "u1")
			mustCreateQRSession(t, s, first)
			mustCreateQRSession(t, s, sampleQRSession("q2", "c1"))
			_, err := s.UpdateQRSession(t.Context(), "q2", func(old storage.QRSession) (storage.QRSession, error) {
				old.State = storage.QRScanned
				old.ConfirmTokenDigest = first.ConfirmTokenDigest
				return old, nil
			})
			mustBe(t, err, storage.ErrConflict, "UpdateQRSession")
			assertQRSessionStored(t, s, first)
			assertQRSessionStored(t, s, sampleQRSession("q2", "c1"))
		}},
		{"update_replaces_confirm_token", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, nil)
			mustCreateQRSession(t, s, sampleQRSession("q1", "c1"))
			for _, digest := range []string{"confirm-1", "confirm-2"} {
				_, err := s.UpdateQRSession(t.Context(), "q1", func(old storage.QRSession) (storage.QRSession, error) {
					old.State = storage.QRScanned
					old.ConfirmTokenDigest = digest
					return old, nil
				})
				must(t, err, "UpdateQRSession "+digest)
			}
			_, err := s.GetQRSessionByConfirmToken(t.Context(), "confirm-1")
			mustBe(t, err, storage.ErrNotFound, "GetQRSessionByConfirmToken of the replaced token")
			got, err := s.GetQRSessionByConfirmToken(t.Context(), "confirm-2")
			must(t, err, "GetQRSessionByConfirmToken of the new token")
			if got.ID != "q1" {
				t.Errorf("the new token found %s, want q1", got.ID)
			}
			// Keeping its own token is no conflict.
			_, err = s.UpdateQRSession(t.Context(), "q1", func(old storage.QRSession) (storage.QRSession, error) {
				old.Interval++
				return old, nil
			})
			must(t, err, "UpdateQRSession keeping the token")
		}},
		{"count_pending_counts_open_unexpired_sessions_of_the_client", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1", "c2"}, []string{"u1"})
			now := t0.Add(time.Hour)
			session := func(id, clientID string, state storage.QRState, expiresAt time.Time) {
				qs := sampleQRSession(id, clientID)
				qs.State, qs.ExpiresAt = state, expiresAt
				mustCreateQRSession(t, s, qs)
			}
			later := now.Add(time.Minute)
			session("pending", "c1", storage.QRPending, later)
			session("scanned", "c1", storage.QRScanned, later)
			session("pending-next-microsecond", "c1", storage.QRPending, now.Add(time.Microsecond))
			session("approved", "c1", storage.QRApproved, later)
			session("consumed", "c1", storage.QRConsumed, later)
			session("denied", "c1", storage.QRDenied, later)
			session("pending-expires-now", "c1", storage.QRPending, now)
			session("scanned-expired", "c1", storage.QRScanned, now.Add(-time.Second))
			session("other-client", "c2", storage.QRPending, later)
			for clientID, want := range map[string]int{"c1": 3, "c2": 1, "c3": 0} {
				got, err := s.CountPendingQRSessions(t.Context(), clientID, now)
				must(t, err, "CountPendingQRSessions "+clientID)
				if got != want {
					t.Errorf("CountPendingQRSessions %s = %d, want %d", clientID, got, want)
				}
			}
		}},
		{"gc_keeps_expired_sessions_for_the_retention", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, nil)
			now := t0.Add(24 * time.Hour)
			cutoff := now.Add(-storage.QRSessionRetention)
			expiring := func(id string, expiresAt time.Time) storage.QRSession {
				qs := sampleQRSession(id, "c1")
				qs.CreatedAt, qs.ExpiresAt = expiresAt.Add(-5*time.Minute), expiresAt
				qs.State = storage.QRConsumed
				mustCreateQRSession(t, s, qs)
				return qs
			}
			gone := expiring("past-retention", cutoff.Add(-time.Microsecond))
			kept := []storage.QRSession{
				expiring("at-retention", cutoff),
				expiring("recently-expired", now.Add(-time.Minute)),
				expiring("open", now.Add(time.Minute)),
			}
			got, err := s.GarbageCollect(t.Context(), now)
			must(t, err, "GarbageCollect")
			if want := (storage.GCResult{QRSessions: 1}); got != want {
				t.Errorf("GarbageCollect counted %+v, want %+v", got, want)
			}
			assertQRSessionGone(t, s, gone)
			for _, qs := range kept {
				assertQRSessionStored(t, s, qs)
			}
			// The collected session's digests are free again.
			mustCreateQRSession(t, s, sampleQRSession("past-retention", "c1"))
		}},
		{"delete_client_removes_its_qr_sessions", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1", "c2"}, []string{"u1"})
			gone := sampleDecidedQRSession("q1", "c1", "u1")
			kept := sampleQRSession("q2", "c2")
			mustCreateQRSession(t, s, gone)
			mustCreateQRSession(t, s, kept)
			must(t, s.DeleteClient(t.Context(), "c1"), "DeleteClient")
			assertQRSessionGone(t, s, gone)
			assertQRSessionStored(t, s, kept)
			mustCreateClient(t, s, sampleClient("c1"))
			mustCreateQRSession(t, s, gone)
		}},
		{"stored_values_are_copies", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, nil)
			given := sampleQRSession("q1", "c1")
			mustCreateQRSession(t, s, given)
			given.Scopes[0] = "changed-after-create"
			given.MatchChoices[0] = "00"
			got, err := s.GetQRSession(t.Context(), "q1")
			must(t, err, "GetQRSession")
			got.Scopes[1] = "changed-after-get"
			_, err = s.UpdateQRSession(t.Context(), "q1", func(old storage.QRSession) (storage.QRSession, error) {
				old.MatchChoices[1] = "changed-by-update-before-refusing"
				return old, errStateMoved
			})
			mustBe(t, err, errStateMoved, "UpdateQRSession")
			updated, err := s.UpdateQRSession(t.Context(), "q1", func(old storage.QRSession) (storage.QRSession, error) { return old, nil })
			must(t, err, "UpdateQRSession")
			updated.Scopes[2] = "changed-after-update"
			want := sampleQRSession("q1", "c1")
			want.Version = 2
			assertQRSessionStored(t, s, want)
		}},
		{"update_inside_transaction", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, nil)
			mustCreateQRSession(t, s, sampleQRSession("q1", "c1"))
			for _, commit := range []bool{false, true} {
				tx, err := s.BeginTX(t.Context())
				must(t, err, "BeginTX")
				_, err = s.UpdateQRSession(tx, "q1", func(old storage.QRSession) (storage.QRSession, error) {
					old.State = storage.QRScanned
					old.ConfirmTokenDigest = fmt.Sprintf("confirm-committed=%v", commit)
					return old, nil
				})
				must(t, err, "UpdateQRSession")
				if commit {
					must(t, s.Commit(tx), "Commit")
				} else {
					must(t, s.Rollback(tx), "Rollback")
				}
			}
			want := sampleQRSession("q1", "c1")
			want.State, want.ConfirmTokenDigest, want.Version = storage.QRScanned, "confirm-committed=true", 2
			assertQRSessionStored(t, s, want)
			_, err := s.GetQRSessionByConfirmToken(t.Context(), "confirm-committed=false")
			mustBe(t, err, storage.ErrNotFound, "GetQRSessionByConfirmToken of the rolled-back update")
		}},
		{"concurrent_approvals_exactly_one_wins", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			qs := sampleQRSession("q1", "c1")
			qs.State, qs.AccountID, qs.DeviceID = storage.QRScanned, "u1", "phone"
			mustCreateQRSession(t, s, qs)
			errs := runTogether(contenders, func(i int) error {
				_, err := s.UpdateQRSession(t.Context(), "q1", func(old storage.QRSession) (storage.QRSession, error) {
					if old.State != storage.QRScanned {
						return old, errStateMoved
					}
					old.State = storage.QRApproved
					old.DenyReason = fmt.Sprintf("winner-%d", i)
					return old, nil
				})
				return err
			})
			var winners []int
			for i, err := range errs {
				switch {
				case err == nil:
					winners = append(winners, i)
				case !errors.Is(err, errStateMoved):
					t.Errorf("approval %d: got error %v, want nil or the update's own error", i, err)
				}
			}
			if len(winners) != 1 {
				t.Fatalf("%d approvals succeeded, want exactly 1", len(winners))
			}
			got, err := s.GetQRSession(t.Context(), "q1")
			must(t, err, "GetQRSession")
			if got.State != storage.QRApproved || got.DenyReason != fmt.Sprintf("winner-%d", winners[0]) || got.Version != 2 {
				t.Errorf("after the approvals: State %s, DenyReason %q, Version %d; want approved by winner-%d at Version 2",
					got.State, got.DenyReason, got.Version, winners[0])
			}
		}},
		{"concurrent_updates_lose_no_increment", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, nil)
			mustCreateQRSession(t, s, sampleQRSession("q1", "c1"))
			errs := runTogether(contenders, func(int) error {
				_, err := s.UpdateQRSession(t.Context(), "q1", func(old storage.QRSession) (storage.QRSession, error) {
					old.Interval += 5
					return old, nil
				})
				return err
			})
			for i, err := range errs {
				must(t, err, fmt.Sprintf("UpdateQRSession %d", i))
			}
			got, err := s.GetQRSession(t.Context(), "q1")
			must(t, err, "GetQRSession")
			if want := sampleQRSession("q1", "c1").Interval + 5*contenders; got.Interval != want {
				t.Errorf("Interval = %d after %d increments of 5, want %d", got.Interval, contenders, want)
			}
			if got.Version != 1+contenders {
				t.Errorf("Version = %d after %d updates, want %d", got.Version, contenders, 1+contenders)
			}
		}},
	}
}
