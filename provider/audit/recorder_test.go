package audit

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/qrid/qrid/grants/qr"
	"github.com/qrid/qrid/provider/jsonapi/apitest"
	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
)

var testNow = time.Date(2030, 1, 2, 3, 4, 5, 6000, time.FixedZone("UTC+1", 3600))

func newTestRecorder(store storage.AuditStore, opts Options) (*Recorder, *apitest.LogBuffer) {
	logs := &apitest.LogBuffer{}
	opts.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	opts.Now = func() time.Time { return testNow }
	return NewRecorder(store, opts), logs
}

func list(t *testing.T, store storage.AuditStore) []storage.AuditEvent {
	t.Helper()
	events, err := store.ListAuditEvents(t.Context(), storage.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func TestRecordStampsAndStores(t *testing.T) {
	t.Parallel()
	store := memory.New()
	r, logs := newTestRecorder(store, Options{})
	r.Record(t.Context(), storage.AuditEvent{Type: MobileLoginFailed, AccountID: "u1", IP: "192.0.2.1", Detail: "wrong_password"})
	given := storage.AuditEvent{ID: "given", Time: testNow.Add(-time.Hour), Type: KeysRotated}
	r.Record(t.Context(), given)
	r.Wait()

	got := list(t, store)
	if len(got) != 2 {
		t.Fatalf("%d events stored, want 2: %+v", len(got), got)
	}
	stamped := got[0]
	if len(stamped.ID) != 32 || !stamped.Time.Equal(testNow) || stamped.Time.Location() != time.UTC {
		t.Errorf("stamped event %+v: want a 32-hex-digit ID and the time now in UTC", stamped)
	}
	if stamped.Type != MobileLoginFailed || stamped.AccountID != "u1" || stamped.IP != "192.0.2.1" || stamped.Detail != "wrong_password" {
		t.Errorf("stored %+v", stamped)
	}
	if got[1].ID != "given" || !got[1].Time.Equal(given.Time) {
		t.Errorf("an event's own ID and time were not kept: %+v", got[1])
	}
	if logs.String() != "" {
		t.Errorf("unexpected logs: %s", logs)
	}
}

func TestRecordOutlivesTheRequest(t *testing.T) {
	t.Parallel()
	t.Run("cancelled_context", func(t *testing.T) {
		t.Parallel()
		store := memory.New()
		r, _ := newTestRecorder(store, Options{})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		r.Record(ctx, storage.AuditEvent{Type: DeviceLogout})
		r.Wait()
		if got := list(t, store); len(got) != 1 {
			t.Fatalf("%d events stored, want 1", len(got))
		}
	})
	t.Run("rolled_back_transaction", func(t *testing.T) {
		t.Parallel()
		// The memory store's transaction holds its lock: a write that joined it
		// would be rolled back, and a write that waited for it on the caller's
		// goroutine would never end.
		store := memory.New()
		r, _ := newTestRecorder(store, Options{})
		tx, err := store.BeginTX(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		r.Record(tx, storage.AuditEvent{Type: RefreshTokenReused})
		if err := store.Rollback(tx); err != nil {
			t.Fatal(err)
		}
		r.Wait()
		if got := list(t, store); len(got) != 1 || got[0].Type != RefreshTokenReused {
			t.Fatalf("stored %+v, want the event despite the rollback", got)
		}
	})
}

// blockingStore holds every append until release is closed.
type blockingStore struct {
	storage.AuditStore
	entered chan struct{}
	release chan struct{}
}

func (s *blockingStore) AppendAuditEvent(ctx context.Context, e storage.AuditEvent) error {
	s.entered <- struct{}{}
	<-s.release
	return s.AuditStore.AppendAuditEvent(ctx, e)
}

func TestRecordNeverBlocks(t *testing.T) {
	t.Parallel()
	store := &blockingStore{AuditStore: memory.New(), entered: make(chan struct{}, 1), release: make(chan struct{})}
	r, logs := newTestRecorder(store, Options{MaxPending: 1})
	r.Record(t.Context(), storage.AuditEvent{ID: "first", Type: QRScanned})
	<-store.entered // the first write is in flight, and stuck
	r.Record(t.Context(), storage.AuditEvent{ID: "second", Type: QRApproved, AccountID: "u1"})
	if r.Dropped() != 1 {
		t.Errorf("Dropped() = %d, want 1", r.Dropped())
	}
	if !strings.Contains(logs.String(), `"msg":"audit event dropped: too many writes pending"`) ||
		!strings.Contains(logs.String(), `"audit_id":"second"`) || !strings.Contains(logs.String(), `"audit_type":"qr.approved"`) {
		t.Errorf("the dropped event is not logged in full: %s", logs)
	}
	close(store.release)
	r.Wait()
	got := list(t, store)
	if len(got) != 1 || got[0].ID != "first" {
		t.Fatalf("stored %+v, want only the first event", got)
	}
	// A slot is free again.
	store.entered = make(chan struct{}, 1)
	r.Record(t.Context(), storage.AuditEvent{ID: "third", Type: QRDenied})
	r.Wait()
	if got := list(t, store); len(got) != 2 {
		t.Fatalf("%d events stored after the slot freed, want 2", len(got))
	}
}

// stuckStore never answers before its context ends.
type stuckStore struct{ storage.AuditStore }

func (stuckStore) AppendAuditEvent(ctx context.Context, _ storage.AuditEvent) error {
	<-ctx.Done()
	return ctx.Err()
}

// failingStore fails every append.
type failingStore struct{ storage.AuditStore }

func (failingStore) AppendAuditEvent(context.Context, storage.AuditEvent) error {
	return errors.New("disk on fire")
}

func TestRecordFailuresAreLogged(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		store storage.AuditStore
		opts  Options
		want  string
	}{
		{"fail/timeout", stuckStore{}, Options{Timeout: time.Millisecond}, "context deadline exceeded"},
		{"fail/store_error", failingStore{}, Options{}, "disk on fire"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, logs := newTestRecorder(tt.store, tt.opts)
			r.Record(t.Context(), storage.AuditEvent{ID: "e1", Type: UserDeleted, AccountID: "u9"})
			r.Wait()
			out := logs.String()
			for _, want := range []string{`"level":"ERROR"`, `"msg":"audit event not stored"`, `"audit_id":"e1"`,
				`"account_id":"u9"`, tt.want} {
				if !strings.Contains(out, want) {
					t.Errorf("log lacks %s: %s", want, out)
				}
			}
		})
	}
}

func TestNilRecorder(t *testing.T) {
	t.Parallel()
	var r *Recorder
	r.Record(t.Context(), storage.AuditEvent{Type: QRScanned})
	r.QREvent(t.Context(), qr.Notice{Kind: qr.NoticeScanned})
	r.RefreshTokenReused(t.Context(), "c", "u", "req")
	r.Wait()
	if r.Dropped() != 0 {
		t.Error("a nil recorder dropped events")
	}
}

func TestAdapters(t *testing.T) {
	t.Parallel()
	sess := storage.QRSession{ID: "qr1", ClientID: "tv", AccountID: "alice", DeviceID: "phone"}
	tests := []struct {
		name   string
		record func(r *Recorder, ctx context.Context)
		want   storage.AuditEvent
	}{
		{"ok/qr_scanned", func(r *Recorder, ctx context.Context) {
			r.QREvent(ctx, qr.Notice{Kind: qr.NoticeScanned, Session: sess, AccountID: "alice", DeviceID: "phone", IP: "192.0.2.7"})
		}, storage.AuditEvent{Type: QRScanned, AccountID: "alice", ClientID: "tv", DeviceID: "phone", IP: "192.0.2.7", Detail: "qr_id=qr1"}},
		{"ok/qr_approved", func(r *Recorder, ctx context.Context) {
			r.QREvent(ctx, qr.Notice{Kind: qr.NoticeApproved, Session: sess, AccountID: "alice", DeviceID: "phone"})
		}, storage.AuditEvent{Type: QRApproved, AccountID: "alice", ClientID: "tv", DeviceID: "phone", Detail: "qr_id=qr1"}},
		{"ok/qr_denied", func(r *Recorder, ctx context.Context) {
			r.QREvent(ctx, qr.Notice{Kind: qr.NoticeDenied, Session: sess, AccountID: "alice", DeviceID: "phone"})
		}, storage.AuditEvent{Type: QRDenied, AccountID: "alice", ClientID: "tv", DeviceID: "phone", Detail: "qr_id=qr1"}},
		{"ok/qr_wrong_match", func(r *Recorder, ctx context.Context) {
			r.QREvent(ctx, qr.Notice{Kind: qr.NoticeWrongMatch, Session: sess, AccountID: "alice", DeviceID: "phone"})
		}, storage.AuditEvent{Type: QRWrongMatch, AccountID: "alice", ClientID: "tv", DeviceID: "phone", Detail: "qr_id=qr1"}},
		{"ok/qr_contested_names_both_devices", func(r *Recorder, ctx context.Context) {
			r.QREvent(ctx, qr.Notice{Kind: qr.NoticeContested, Session: sess, AccountID: "mallory", DeviceID: "m-phone", IP: "203.0.113.9"})
		}, storage.AuditEvent{Type: QRContested, AccountID: "mallory", ClientID: "tv", DeviceID: "m-phone", IP: "203.0.113.9",
			Detail: "qr_id=qr1 first_device_id=phone"}},
		{"ok/refresh_token_reused", func(r *Recorder, ctx context.Context) {
			r.RefreshTokenReused(ctx, "web", "alice", "req-1")
		}, storage.AuditEvent{Type: RefreshTokenReused, AccountID: "alice", ClientID: "web", Detail: "request_id=req-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := memory.New()
			r, _ := newTestRecorder(store, Options{})
			tt.record(r, t.Context())
			r.Wait()
			got := list(t, store)
			if len(got) != 1 {
				t.Fatalf("%d events stored, want 1", len(got))
			}
			want := tt.want
			want.ID, want.Time = got[0].ID, testNow.UTC()
			if got[0] != want {
				t.Errorf("stored %+v\nwant %+v", got[0], want)
			}
		})
	}
}

func TestTypesAreUniqueAndDotted(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, typ := range Types {
		if seen[typ] || !strings.Contains(typ, ".") {
			t.Errorf("type %q is repeated or not dotted", typ)
		}
		seen[typ] = true
	}
	if len(Types) != 18 {
		t.Errorf("%d types, want 18", len(Types))
	}
}
