package storagetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/qrid/qrid/storage"
)

// sampleAuditEvent returns an event at at with every field set.
func sampleAuditEvent(id string, at time.Time, typ, accountID string) storage.AuditEvent {
	return storage.AuditEvent{
		ID:        id,
		Time:      at,
		Type:      typ,
		AccountID: accountID,
		ClientID:  "client-" + id,
		DeviceID:  "device-" + id,
		IP:        "2001:db8::" + id,
		Detail:    "détail « " + id + " »",
	}
}

func mustAppendAuditEvent(t testing.TB, s storage.Storage, e storage.AuditEvent) {
	t.Helper()
	must(t, s.AppendAuditEvent(t.Context(), e), "AppendAuditEvent "+e.ID)
}

func assertAuditEvents(t testing.TB, s storage.Storage, q storage.AuditQuery, want ...storage.AuditEvent) {
	t.Helper()
	got, err := s.ListAuditEvents(t.Context(), q)
	must(t, err, fmt.Sprintf("ListAuditEvents %+v", q))
	assertSameList(t, fmt.Sprintf("ListAuditEvents %+v", q), want, got)
}

func auditScenarios() []scenario {
	return []scenario{
		{"append_then_list", func(t *testing.T, s storage.Storage) {
			e := sampleAuditEvent("1", t0, "mobile.login.failed", "u1")
			mustAppendAuditEvent(t, s, e)
			assertAuditEvents(t, s, storage.AuditQuery{}, e)
		}},
		{"append_minimal_then_list", func(t *testing.T, s storage.Storage) {
			// No foreign keys: the account, client and device need not exist.
			e := storage.AuditEvent{ID: "1", Time: t0, Type: "keys.rotated"}
			mustAppendAuditEvent(t, s, e)
			assertAuditEvents(t, s, storage.AuditQuery{}, e)
		}},
		{"append_duplicate_id_conflicts", func(t *testing.T, s storage.Storage) {
			first := sampleAuditEvent("1", t0, "qr.scanned", "u1")
			mustAppendAuditEvent(t, s, first)
			second := sampleAuditEvent("1", t0.Add(time.Second), "qr.denied", "u2")
			mustBe(t, s.AppendAuditEvent(t.Context(), second), storage.ErrConflict, "AppendAuditEvent duplicate")
			assertAuditEvents(t, s, storage.AuditQuery{}, first)
		}},
		{"list_empty_store_is_empty", func(t *testing.T, s storage.Storage) {
			got, err := s.ListAuditEvents(t.Context(), storage.AuditQuery{})
			must(t, err, "ListAuditEvents")
			if len(got) != 0 {
				t.Errorf("ListAuditEvents on an empty store: %d events", len(got))
			}
		}},
		{"list_newest_first_then_id_descending", func(t *testing.T, s storage.Storage) {
			older := sampleAuditEvent("a", t0.Add(-time.Hour), "qr.scanned", "u1")
			tiedLow := sampleAuditEvent("b", t0, "qr.scanned", "u1")
			tiedHigh := sampleAuditEvent("c", t0, "qr.approved", "u1")
			newer := sampleAuditEvent("d", t0.Add(time.Microsecond), "device.logout", "u1")
			for _, e := range []storage.AuditEvent{tiedHigh, older, newer, tiedLow} {
				mustAppendAuditEvent(t, s, e)
			}
			assertAuditEvents(t, s, storage.AuditQuery{}, newer, tiedHigh, tiedLow, older)
		}},
		{"list_filters_combine", func(t *testing.T, s storage.Storage) {
			e1 := sampleAuditEvent("1", t0.Add(-2*time.Hour), "mobile.login.failed", "u1")
			e2 := sampleAuditEvent("2", t0.Add(-time.Hour), "mobile.login.ok", "u1")
			e3 := sampleAuditEvent("3", t0, "mobile.login.failed", "u2")
			e4 := sampleAuditEvent("4", t0.Add(time.Hour), "mobile.login.failed", "u1")
			e5 := sampleAuditEvent("5", t0.Add(2*time.Hour), "client.created", "")
			for _, e := range []storage.AuditEvent{e1, e2, e3, e4, e5} {
				mustAppendAuditEvent(t, s, e)
			}
			assertAuditEvents(t, s, storage.AuditQuery{AccountID: "u1"}, e4, e2, e1)
			assertAuditEvents(t, s, storage.AuditQuery{Type: "mobile.login.failed"}, e4, e3, e1)
			assertAuditEvents(t, s, storage.AuditQuery{AccountID: "u1", Type: "mobile.login.failed"}, e4, e1)
			// Since is inclusive, to the microsecond.
			assertAuditEvents(t, s, storage.AuditQuery{Since: t0}, e5, e4, e3)
			assertAuditEvents(t, s, storage.AuditQuery{Since: t0.Add(time.Microsecond)}, e5, e4)
			assertAuditEvents(t, s, storage.AuditQuery{AccountID: "u1", Type: "mobile.login.failed", Since: t0}, e4)
			assertAuditEvents(t, s, storage.AuditQuery{AccountID: "nobody"})
			assertAuditEvents(t, s, storage.AuditQuery{Type: "qr.scanned"})
		}},
		{"list_limit_keeps_the_newest", func(t *testing.T, s storage.Storage) {
			var all []storage.AuditEvent
			for i := range 5 {
				e := sampleAuditEvent(fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second), "qr.scanned", "u1")
				mustAppendAuditEvent(t, s, e)
				all = append([]storage.AuditEvent{e}, all...)
			}
			assertAuditEvents(t, s, storage.AuditQuery{Limit: 2}, all[:2]...)
			assertAuditEvents(t, s, storage.AuditQuery{Limit: 1, AccountID: "u1"}, all[:1]...)
			assertAuditEvents(t, s, storage.AuditQuery{Limit: 5}, all...)
			assertAuditEvents(t, s, storage.AuditQuery{Limit: 0}, all...)
			assertAuditEvents(t, s, storage.AuditQuery{Limit: -1}, all...)
		}},
		{"list_limit_is_capped", func(t *testing.T, s storage.Storage) {
			n := storage.AuditMaxLimit + 1
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					errs <- s.AppendAuditEvent(t.Context(), storage.AuditEvent{
						ID: fmt.Sprintf("%05d", i), Time: t0.Add(time.Duration(i) * time.Millisecond), Type: "qr.scanned"})
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				must(t, err, "AppendAuditEvent")
			}
			for _, limit := range []int{0, n, 1 << 30} {
				got, err := s.ListAuditEvents(t.Context(), storage.AuditQuery{Limit: limit})
				must(t, err, "ListAuditEvents")
				if len(got) != storage.AuditMaxLimit {
					t.Fatalf("Limit %d: %d events, want the cap %d", limit, len(got), storage.AuditMaxLimit)
				}
				if got[0].ID != fmt.Sprintf("%05d", n-1) || got[len(got)-1].ID != "00001" {
					t.Errorf("Limit %d: events %s to %s, want the newest %d", limit, got[0].ID, got[len(got)-1].ID, storage.AuditMaxLimit)
				}
			}
		}},
		{"gc_removes_events_past_retention", func(t *testing.T, s storage.Storage) {
			cutoff := t0.Add(-storage.AuditRetention)
			old := sampleAuditEvent("old", cutoff.Add(-time.Microsecond), "qr.scanned", "u1")
			atCutoff := sampleAuditEvent("at-cutoff", cutoff, "qr.scanned", "u1")
			recent := sampleAuditEvent("recent", t0.Add(-time.Hour), "qr.scanned", "u1")
			for _, e := range []storage.AuditEvent{old, atCutoff, recent} {
				mustAppendAuditEvent(t, s, e)
			}
			got, err := s.GarbageCollect(t.Context(), t0)
			must(t, err, "GarbageCollect")
			if want := (storage.GCResult{AuditEvents: 1}); got != want {
				t.Errorf("GarbageCollect counted %+v, want %+v", got, want)
			}
			assertAuditEvents(t, s, storage.AuditQuery{}, recent, atCutoff)
		}},
		{"append_in_rolled_back_transaction_is_discarded", func(t *testing.T, s storage.Storage) {
			tx, err := s.BeginTX(t.Context())
			must(t, err, "BeginTX")
			must(t, s.AppendAuditEvent(tx, sampleAuditEvent("1", t0, "qr.scanned", "u1")), "AppendAuditEvent in transaction")
			must(t, s.Rollback(tx), "Rollback")
			assertAuditEvents(t, s, storage.AuditQuery{})
		}},
	}
}
