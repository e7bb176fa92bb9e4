package qr

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qrid/qrid/storage"
)

// Digest maps a secret (device code, user code, confirm token) to the keyed digest
// it is stored and looked up under.
type Digest func(secret string) string

// Config configures a Service.
type Config struct {
	// Issuer is the exact issuer URL: QR contents and verification URIs are built
	// on it.
	Issuer string
	// TTL is the lifetime of a QR session; Interval the polling interval announced
	// to RFC 8628 clients.
	TTL      time.Duration
	Interval time.Duration
	// ConfirmTTL is the lifetime of a confirm token (60 s by DESIGN §4).
	ConfirmTTL time.Duration
	// MaxPendingPerClient caps the sessions a client may have pending at once: 0
	// means 10,000, a negative number no cap (load tests).
	MaxPendingPerClient int
	// MaxWait caps the wait of a long-poll (25 s by DESIGN §4).
	MaxWait time.Duration
	// Digests of the three secrets; they must be keyed (HMAC) and distinct.
	DeviceCodes, UserCodes, ConfirmTokens Digest
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnEvent, when set, is told of every scan and decision once it is stored (see
	// Notice). It runs on the request's goroutine and must not block.
	OnEvent func(ctx context.Context, n Notice)
	// AuditEvent, when set, turns a Notice into the audit event stored with the
	// change, in the same statement (storage.SwapQRSession); ok false stores none.
	// Notice.Session is then the session as it is about to be stored.
	AuditEvent func(n Notice) (e storage.AuditEvent, ok bool)
}

// The kinds of Notice.
const (
	NoticeScanned    = "scanned"
	NoticeContested  = "contested"
	NoticeApproved   = "approved"
	NoticeDenied     = "denied"
	NoticeWrongMatch = "wrong_match"
)

// Notice is a stored QR session change, as Config.OnEvent hears it: a scan (again
// by the same device, or by a second device, which contests the session) or a
// decision. Refused events change nothing and are not reported; neither is the
// consumption of an approved session.
type Notice struct {
	// Kind is one of the Notice* constants.
	Kind string
	// Session is the session as stored after the change.
	Session storage.QRSession
	// AccountID, DeviceID and IP name the phone that caused the change (IP as its
	// caller gave it, "" if unknown). For a contested session that is the second
	// device; Session still names the first.
	AccountID, DeviceID, IP string
}

// Service runs QR sessions: device authorization, scan, decision, polling with
// long-poll, and consumption when tokens are delivered.
type Service struct {
	store storage.Storage
	hub   *Hub
	cfg   Config
	// draining is closed by Drain: held polls answer at once.
	draining  chan struct{}
	drainOnce sync.Once
	// held counts the polls being held right now.
	held atomic.Int64
}

// HeldPolls is the number of long-polls being held right now.
func (s *Service) HeldPolls() int64 { return s.held.Load() }

// NewService returns a Service on store whose changes are published to hub.
func NewService(store storage.Storage, hub *Hub, cfg Config) (*Service, error) {
	if cfg.Issuer == "" || cfg.DeviceCodes == nil || cfg.UserCodes == nil || cfg.ConfirmTokens == nil {
		return nil, errors.New("qr: issuer and digests are required")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 5 * time.Minute
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.ConfirmTTL <= 0 {
		cfg.ConfirmTTL = 60 * time.Second
	}
	if cfg.MaxPendingPerClient == 0 {
		cfg.MaxPendingPerClient = 10000
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 25 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{store: store, hub: hub, cfg: cfg, draining: make(chan struct{})}, nil
}

// Drain makes every held long-poll answer at once and new polls not wait, so a
// server shutting down is not held up by waiting clients (they poll again, on
// another node).
func (s *Service) Drain() {
	s.drainOnce.Do(func() { close(s.draining) })
}

// Hub returns the service's hub.
func (s *Service) Hub() *Hub { return s.hub }

// Config returns the service's configuration with defaults applied.
func (s *Service) Config() Config { return s.cfg }

// AuthorizeRequest asks for a new QR session.
type AuthorizeRequest struct {
	ClientID string
	Scopes   []string
	// Kind is "device" or "web".
	Kind string
	// Matching turns number matching on (clients not marked first-party).
	Matching           bool
	RequesterIP        string
	RequesterUserAgent string
	// BrowserBinding is the digest of the browser cookie a web session is bound to.
	BrowserBinding string
}

// Authorization is a new QR session as the client sees it (RFC 8628 §3.2 plus
// qrid's extensions). DeviceCode and UserCode are shown here once and never stored.
type Authorization struct {
	QRID                    string
	DeviceCode              string
	UserCode                string
	VerificationURI         string
	VerificationURIComplete string
	QRImageURI              string
	ExpiresIn               int
	Interval                int
	MatchCode               string
	Session                 storage.QRSession
}

// Authorize creates a QR session.
func (s *Service) Authorize(ctx context.Context, req AuthorizeRequest) (Authorization, error) {
	now := s.cfg.Now().UTC()
	kind := req.Kind
	if kind == "" {
		kind = "device"
	}
	// A user code collision (20^8 codes) is retried with a new code.
	for attempt := 0; ; attempt++ {
		a := Authorization{QRID: newQRID(), DeviceCode: newSecret(), UserCode: newUserCode()}
		sess := storage.QRSession{
			ID:                 a.QRID,
			Kind:               kind,
			DeviceCodeDigest:   s.cfg.DeviceCodes(a.DeviceCode),
			UserCodeDigest:     s.cfg.UserCodes(NormalizeUserCode(a.UserCode)),
			ClientID:           req.ClientID,
			Scopes:             req.Scopes,
			State:              storage.QRPending,
			Interval:           int(s.cfg.Interval / time.Second),
			RequesterIP:        req.RequesterIP,
			RequesterUserAgent: req.RequesterUserAgent,
			BrowserBinding:     req.BrowserBinding,
			CreatedAt:          now,
			ExpiresAt:          now.Add(s.cfg.TTL),
			Version:            1,
		}
		if req.Matching {
			sess.MatchCode, sess.MatchChoices = newMatch()
		}
		err := s.store.CreateQRSessionCapped(ctx, sess, max(s.cfg.MaxPendingPerClient, 0))
		if errors.Is(err, storage.ErrTooMany) {
			return Authorization{}, ErrTooManyPending
		}
		if errors.Is(err, storage.ErrConflict) && attempt < 3 {
			continue
		}
		if err != nil {
			return Authorization{}, err
		}
		s.hub.Publish(sess)
		a.VerificationURI = s.cfg.Issuer + "/device"
		a.VerificationURIComplete = s.cfg.Issuer + "/q/" + a.QRID
		a.QRImageURI = s.cfg.Issuer + "/qr/" + a.QRID + ".png"
		a.ExpiresIn = int(s.cfg.TTL / time.Second)
		a.Interval = sess.Interval
		a.MatchCode = sess.MatchCode
		a.Session = sess
		return a, nil
	}
}

// Session returns a session by qr_id; ErrNotFound when there is none.
func (s *Service) Session(ctx context.Context, qrID string) (storage.QRSession, error) {
	sess, err := s.store.GetQRSession(ctx, qrID)
	if errors.Is(err, storage.ErrNotFound) {
		return sess, ErrNotFound
	}
	return sess, err
}

// ScanRequest is a phone scanning a QR code or typing a user code.
type ScanRequest struct {
	// QR is the scanned content ({issuer}/q/{qr_id} or a bare qr_id); UserCode the
	// typed code. Exactly one is set.
	QR       string
	UserCode string
	// AccountID and DeviceID identify the signed-in phone (storage.Device.ID).
	AccountID string
	DeviceID  string
	// IP is the phone's address, for Config.OnEvent only.
	IP string
}

// ScanResult is what the phone needs to show the confirmation screen.
type ScanResult struct {
	// ConfirmToken is the one-time token of the decision; shown once, stored as a
	// digest.
	ConfirmToken string
	ExpiresIn    int
	Session      storage.QRSession
}

// Scan binds the account and device to the session and issues a confirm token.
func (s *Service) Scan(ctx context.Context, req ScanRequest) (ScanResult, error) {
	var (
		sess   storage.QRSession
		cached bool
		err    error
	)
	switch {
	case req.QR != "" && req.UserCode == "":
		id := ParseQRContent(s.cfg.Issuer, req.QR)
		if id == "" {
			return ScanResult{}, ErrNotFound
		}
		sess, cached, err = s.current(ctx, id)
	case req.UserCode != "" && req.QR == "":
		code := NormalizeUserCode(req.UserCode)
		if code == "" {
			return ScanResult{}, ErrNotFound
		}
		sess, err = s.store.GetQRSessionByUserCode(ctx, s.cfg.UserCodes(code))
	default:
		return ScanResult{}, errors.New("qr: scan needs exactly one of the QR content and the user code")
	}
	if errors.Is(err, storage.ErrNotFound) {
		return ScanResult{}, ErrNotFound
	}
	if err != nil {
		return ScanResult{}, err
	}
	token := newSecret()
	updated, err := s.apply(ctx, sess, cached, Scan{
		AccountID: req.AccountID, DeviceID: req.DeviceID,
		ConfirmTokenDigest: s.cfg.ConfirmTokens(token), ConfirmTTL: s.cfg.ConfirmTTL,
	}, req.IP)
	if err != nil {
		return ScanResult{Session: updated}, err
	}
	return ScanResult{
		ConfirmToken: token,
		ExpiresIn:    int(updated.ConfirmExpiresAt.Sub(s.cfg.Now()).Round(time.Second) / time.Second),
		Session:      updated,
	}, nil
}

// ConfirmRequest is the person's decision on the phone.
type ConfirmRequest struct {
	ConfirmToken string
	AccountID    string
	DeviceID     string
	Approve      bool
	Match        string
	// IP is the phone's address, for Config.OnEvent only.
	IP string
}

// Confirm applies the decision. The confirm token works once: of two concurrent
// confirms exactly one wins.
func (s *Service) Confirm(ctx context.Context, req ConfirmRequest) (storage.QRSession, error) {
	if req.ConfirmToken == "" || len(req.ConfirmToken) > 128 {
		return storage.QRSession{}, ErrInvalidConfirmToken
	}
	digest := s.cfg.ConfirmTokens(req.ConfirmToken)
	sess, cached := s.hub.ByConfirmToken(digest)
	if !cached {
		var err error
		sess, err = s.store.GetQRSessionByConfirmToken(ctx, digest)
		if errors.Is(err, storage.ErrNotFound) {
			return sess, ErrInvalidConfirmToken
		}
		if err != nil {
			return sess, err
		}
	}
	return s.apply(ctx, sess, cached, Decide{
		AccountID: req.AccountID, DeviceID: req.DeviceID, ConfirmTokenDigest: digest,
		Approve: req.Approve, Match: req.Match,
	}, req.IP)
}

// Consume marks an approved session consumed, once: it is called when the tokens
// are delivered, inside the transaction that stores them.
func (s *Service) Consume(ctx context.Context, id string) (storage.QRSession, error) {
	sess, cached, err := s.current(ctx, id)
	if err != nil {
		return sess, err
	}
	return s.apply(ctx, sess, cached, Consume{}, "")
}

// current returns session id as this node's hub has it when fresh (cached), else as
// stored.
func (s *Service) current(ctx context.Context, id string) (sess storage.QRSession, cached bool, err error) {
	if sess, ok := s.hub.Peek(id); ok {
		return sess, true, nil
	}
	sess, err = s.store.GetQRSession(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return sess, false, ErrNotFound
	}
	return sess, false, err
}

// maxSwaps bounds the attempts of apply: each lost race re-reads the session, and
// a session changes only a few times in its life.
const maxSwaps = 8

// apply runs the state machine on old (the session as last seen: from the hub when
// cached, else from the store) and stores the result with its audit event in one
// statement, if the session has not changed since (a session closed by a failing
// event is stored too); when it has, it reads the session again and starts over. A
// refusal is only trusted from the stored session, since the hub's copy may lag a
// change made on another node by a few milliseconds. The result is published to the
// hub and told to Config.OnEvent. ip is the address of whoever caused ev.
func (s *Service) apply(ctx context.Context, old storage.QRSession, cached bool, ev Event, ip string) (storage.QRSession, error) {
	for attempt := 1; ; attempt++ {
		next, outcome := Apply(old, ev, s.cfg.Now().UTC())
		refused := outcome != nil && !closesSession(outcome)
		if refused && !cached {
			return old, outcome
		}
		if !refused {
			notice := noticeOf(ev, next, ip)
			var events []storage.AuditEvent
			if notice.Kind != "" && s.cfg.AuditEvent != nil {
				if e, ok := s.cfg.AuditEvent(notice); ok {
					events = append(events, e)
				}
			}
			s.hub.Expect(old.ID, old.Version+1)
			updated, err := s.store.SwapQRSession(ctx, old, next, events...)
			if _, inTx := ev.(Consume); err == nil && !inTx {
				s.hub.Publish(updated)
			}
			s.hub.Settle(old.ID)
			switch {
			case errors.Is(err, storage.ErrConflict) && attempt < maxSwaps:
				// Changed since old was read: read it again below.
			case errors.Is(err, storage.ErrNotFound):
				return updated, ErrNotFound
			case err != nil:
				return updated, err
			default:
				if notice.Kind != "" && s.cfg.OnEvent != nil {
					notice.Session = updated
					s.cfg.OnEvent(ctx, notice)
				}
				return updated, outcome
			}
		}
		var err error
		if old, err = s.store.GetQRSession(ctx, old.ID); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return old, ErrNotFound
			}
			return old, err
		}
		cached = false
	}
}

// noticeOf is the Notice of a scan or decision that leads to next ("" Kind for
// anything else).
func noticeOf(ev Event, next storage.QRSession, ip string) Notice {
	n := Notice{Session: next, IP: ip}
	switch ev := ev.(type) {
	case Scan:
		n.AccountID, n.DeviceID = ev.AccountID, ev.DeviceID
		switch {
		case next.State == storage.QRScanned:
			n.Kind = NoticeScanned
		case next.State == storage.QRDenied && next.DenyReason == "contested":
			n.Kind = NoticeContested
		}
	case Decide:
		n.AccountID, n.DeviceID = ev.AccountID, ev.DeviceID
		switch {
		case next.State == storage.QRApproved:
			n.Kind = NoticeApproved
		case next.State == storage.QRDenied && next.DenyReason == "wrong_match":
			n.Kind = NoticeWrongMatch
		case next.State == storage.QRDenied:
			n.Kind = NoticeDenied
		}
	}
	return n
}

// PollResult is the answer to a poll.
type PollResult struct {
	Status  PollStatus
	Session storage.QRSession
	// Interval is the session's current polling interval (it grows on slow_down).
	Interval time.Duration
}

// ErrSlowDown is returned by Poll when the client polls faster than its interval;
// the interval has grown by 5 seconds (RFC 8628 §3.5).
type ErrSlowDown struct{ Interval time.Duration }

func (e *ErrSlowDown) Error() string {
	return fmt.Sprintf("polling too fast: wait at least %s between polls", e.Interval)
}

// ErrUnknownDeviceCode is returned by Poll for a device code that does not exist
// or belongs to another client (invalid_grant).
var ErrUnknownDeviceCode = errors.New("qr: unknown device code")

// Poll answers a client's poll with deviceCode. When wait > 0 (the long-poll
// extension, capped at MaxWait) and the session is pending or scanned, it holds the
// request until the session changes, the wait ends, the session expires or ctx ends.
// A poll on a session the hub knows reads nothing from the store.
func (s *Service) Poll(ctx context.Context, clientID, deviceCode string, wait time.Duration) (PollResult, error) {
	if deviceCode == "" || len(deviceCode) > 128 {
		return PollResult{}, ErrUnknownDeviceCode
	}
	if wait > s.cfg.MaxWait {
		wait = s.cfg.MaxWait
	}
	start := s.cfg.Now()
	deadline := start.Add(wait)
	digest := s.cfg.DeviceCodes(deviceCode)

	id, known := s.hub.SessionID(digest)
	if !known {
		sess, err := s.store.GetQRSessionByDeviceCode(ctx, digest)
		if errors.Is(err, storage.ErrNotFound) {
			return PollResult{}, ErrUnknownDeviceCode
		}
		if err != nil {
			return PollResult{}, err
		}
		s.hub.Publish(sess)
		id = sess.ID
	}
	// A resumed poll has waited already (DeferWait): it answers at once.
	resumed := ctx.Value(resumedKey{}) != nil
	checked, woken := resumed, resumed
	for {
		sess, changed, fresh := s.hub.Snapshot(id)
		if !fresh {
			if err := ctx.Err(); err != nil {
				return PollResult{}, err
			}
			loaded, err := s.store.GetQRSession(ctx, id)
			if err != nil {
				if errors.Is(err, storage.ErrNotFound) {
					return PollResult{}, ErrUnknownDeviceCode
				}
				return PollResult{}, err
			}
			s.hub.Publish(loaded)
			continue
		}
		if sess.ClientID != clientID {
			return PollResult{}, ErrUnknownDeviceCode
		}
		now := s.cfg.Now()
		status := Status(sess, now)
		if status != PollPending {
			if checked {
				s.hub.PollAnswered(id, now, true)
			}
			return PollResult{Status: status, Session: sess}, nil
		}
		if !checked {
			ok, interval := s.hub.AllowPoll(id, time.Duration(sess.Interval)*time.Second, now)
			if !ok {
				return PollResult{}, &ErrSlowDown{Interval: interval}
			}
			checked = true
		}
		if woken || !now.Before(deadline) {
			s.hub.PollAnswered(id, now, wait > 0 || resumed)
			return PollResult{Status: PollPending, Session: sess}, nil
		}
		until := deadline
		if sess.ExpiresAt.Before(until) {
			until = sess.ExpiresAt
		}
		w := &Waiting{id: id, changed: changed, until: until}
		if ctx.Value(deferWaitKey{}) != nil {
			return PollResult{}, w
		}
		if err := s.Wait(ctx, w); err != nil {
			return PollResult{}, err
		}
		// Answer at once: the news (scanned, approved, denied), the end of the wait
		// (expired_token if the session expired), or the drain.
		woken = true
	}
}

// Waiting is Poll's answer, instead of holding the request, under a context made
// by DeferWait: the caller waits with Service.Wait where it chooses, then polls again
// with the context made by Resume, which answers at once. qrid's token endpoint waits
// after fosite has returned, on a shallow stack, so that a held long-poll keeps as
// little memory as it can while it waits.
type Waiting struct {
	id      string
	changed <-chan struct{}
	until   time.Time
}

func (w *Waiting) Error() string { return "qr: the poll waits for a change of its session" }

type (
	deferWaitKey struct{}
	resumedKey   struct{}
)

// DeferWait returns a context under which Poll answers *Waiting instead of holding
// the request.
func DeferWait(ctx context.Context) context.Context {
	return context.WithValue(ctx, deferWaitKey{}, true)
}

// Resume returns a context for polling again after Wait: the poll answers at once,
// and was counted against the polling interval when it first came in.
func Resume(ctx context.Context) context.Context {
	return context.WithValue(ctx, resumedKey{}, true)
}

// Wait holds the caller until the session of w changes, the poll's wait or the
// session ends, or the service drains; it returns ctx's error when ctx ends first.
// The caller is counted in HeldPolls meanwhile.
func (s *Service) Wait(ctx context.Context, w *Waiting) error {
	timer := time.NewTimer(w.until.Sub(s.cfg.Now()))
	defer timer.Stop()
	s.held.Add(1)
	defer s.held.Add(-1)
	select {
	case <-w.changed:
	case <-timer.C:
	case <-s.draining:
	case <-ctx.Done():
		s.hub.PollAnswered(w.id, s.cfg.Now(), false)
		return ctx.Err()
	}
	return nil
}

// Watch returns the session as it is now and a channel that is closed at its next
// change (on any node). Callers must have checked that the session exists and is
// theirs to watch.
func (s *Service) Watch(ctx context.Context, id string) (storage.QRSession, <-chan struct{}, error) {
	for {
		sess, changed, fresh := s.hub.Snapshot(id)
		if fresh {
			return sess, changed, nil
		}
		loaded, err := s.store.GetQRSession(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			return loaded, nil, ErrNotFound
		}
		if err != nil {
			return loaded, nil, err
		}
		s.hub.Publish(loaded)
	}
}

// Draining is closed when the service drains (the server is shutting down).
func (s *Service) Draining() <-chan struct{} { return s.draining }
