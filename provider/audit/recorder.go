package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qrid/qrid/grants/qr"
	"github.com/qrid/qrid/storage"
)

// Defaults of Options.
const (
	DefaultTimeout    = 5 * time.Second
	DefaultMaxPending = 256
)

// Options configures a Recorder. Zero fields take their defaults.
type Options struct {
	// Logger receives the events that could not be stored; nil logs nothing.
	Logger *slog.Logger
	// Now is the clock that stamps events; nil means time.Now.
	Now func() time.Time
	// Timeout bounds each write (DefaultTimeout).
	Timeout time.Duration
	// MaxPending caps the writes in flight; past it events are dropped and logged
	// (DefaultMaxPending).
	MaxPending int
}

// Recorder appends events to the audit trail without ever holding up its caller
// (see the package documentation). Its methods are safe for concurrent use; a nil
// *Recorder records nothing.
type Recorder struct {
	store   storage.AuditStore
	log     *slog.Logger
	now     func() time.Time
	timeout time.Duration
	// slots holds one token per write in flight.
	slots   chan struct{}
	dropped atomic.Int64

	mu      sync.Mutex
	pending int
	idle    *sync.Cond // signalled when pending drops to 0
}

// NewRecorder returns a Recorder writing to store.
func NewRecorder(store storage.AuditStore, opts Options) *Recorder {
	r := &Recorder{store: store, log: opts.Logger, now: opts.Now, timeout: opts.Timeout}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	r.slots = make(chan struct{}, opts.MaxPending)
	r.idle = sync.NewCond(&r.mu)
	return r
}

// Record appends e to the trail in the background and returns at once. An empty
// e.ID gets a random one and a zero e.Time the time now. ctx's values reach the log
// lines about e; its deadline, cancellation and transaction do not reach the store.
func (r *Recorder) Record(ctx context.Context, e storage.AuditEvent) {
	if r == nil {
		return
	}
	if e.ID == "" {
		e.ID = newID()
	}
	if e.Time.IsZero() {
		e.Time = r.now()
	}
	e.Time = e.Time.UTC()
	select {
	case r.slots <- struct{}{}:
	default:
		r.dropped.Add(1)
		r.log.WarnContext(ctx, "audit event dropped: too many writes pending", eventAttrs(e)...)
		return
	}
	r.mu.Lock()
	r.pending++
	r.mu.Unlock()
	go r.write(context.WithoutCancel(ctx), e)
}

// write stores e, logging a failure. logCtx is for the log only.
func (r *Recorder) write(logCtx context.Context, e storage.AuditEvent) {
	defer func() {
		<-r.slots
		r.mu.Lock()
		r.pending--
		if r.pending == 0 {
			r.idle.Broadcast()
		}
		r.mu.Unlock()
	}()
	// A fresh context: the caller's transaction (a context value) must not be
	// joined, and the caller's end must not cancel the write.
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	if err := r.store.AppendAuditEvent(ctx, e); err != nil {
		r.log.ErrorContext(logCtx, "audit event not stored", append(eventAttrs(e), "error", err)...)
	}
}

// Wait blocks until every event recorded so far is stored or has failed. Use it
// before shutting down, and in tests before reading the trail.
func (r *Recorder) Wait() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.pending > 0 {
		r.idle.Wait()
	}
}

// Dropped counts the events dropped because too many writes were pending.
func (r *Recorder) Dropped() int64 {
	if r == nil {
		return 0
	}
	return r.dropped.Load()
}

// QREvent records a QR session change in the background; it is qr.Config.OnEvent's
// shape. qrid itself stores these events with the change instead (QRAuditEvent).
func (r *Recorder) QREvent(ctx context.Context, n qr.Notice) {
	if e, ok := r.QRAuditEvent(n); ok {
		r.Record(ctx, e)
	}
}

// QRAuditEvent is the audit event of a QR session change, stamped with an ID and the
// time now; it is qr.Config.AuditEvent's shape, and the event is stored in the same
// statement as the change. The event names the phone that caused the change: for a
// contested session the second device, while the Detail names the device that had
// scanned first.
func (r *Recorder) QRAuditEvent(n qr.Notice) (storage.AuditEvent, bool) {
	typ, ok := qrTypes[n.Kind]
	if !ok || r == nil {
		return storage.AuditEvent{}, false
	}
	detail := "qr_id=" + n.Session.ID
	if n.Kind == qr.NoticeContested {
		detail += " first_device_id=" + n.Session.DeviceID
	}
	return storage.AuditEvent{
		ID: newID(), Time: r.now().UTC(),
		Type: typ, AccountID: n.AccountID, ClientID: n.Session.ClientID, DeviceID: n.DeviceID,
		IP: n.IP, Detail: detail,
	}, true
}

var qrTypes = map[string]string{
	qr.NoticeScanned:    QRScanned,
	qr.NoticeContested:  QRContested,
	qr.NoticeApproved:   QRApproved,
	qr.NoticeDenied:     QRDenied,
	qr.NoticeWrongMatch: QRWrongMatch,
}

// RefreshTokenReused records the presentation of a rotated refresh token; it is
// fositestore.Store.OnRefreshTokenReuse's shape.
func (r *Recorder) RefreshTokenReused(ctx context.Context, clientID, subject, requestID string) {
	r.Record(ctx, storage.AuditEvent{
		Type: RefreshTokenReused, AccountID: subject, ClientID: clientID,
		Detail: "request_id=" + requestID,
	})
}

func eventAttrs(e storage.AuditEvent) []any {
	return []any{"audit_id", e.ID, "audit_time", e.Time, "audit_type", e.Type, "account_id", e.AccountID,
		"client_id", e.ClientID, "device_id", e.DeviceID, "ip", e.IP, "detail", e.Detail}
}

// newID returns 16 random bytes in hex.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
