package qr

import (
	"sync"
	"time"

	"github.com/qrid/qrid/storage"
)

// Hub is one node's live view of QR sessions. It caches the sessions the node has
// seen, so a poll on a pending session reads nothing from the database; it wakes the
// long-polls and streams waiting on a session the moment the session changes; and it
// enforces each session's polling interval.
//
// Changes reach the hub two ways: Publish, with the full session, from this node's own
// writes; and Announce, with only the session ID and version, from the store's
// notifications (PostgreSQL LISTEN/NOTIFY for changes made on other nodes). An
// announced version newer than the cached one marks the entry stale, and the next
// reader loads it once from the store.
//
// Polling intervals are kept per node: a client whose polls a load balancer spreads
// over several nodes is held to the interval on each node separately.
type Hub struct {
	mu       sync.Mutex
	sessions map[string]*hubEntry
	byDevice map[string]string // device code digest → session ID
	// byConfirm maps the confirm token digest of each known scanned session to
	// its ID.
	byConfirm map[string]string
}

type hubEntry struct {
	session storage.QRSession
	known   bool // session holds a loaded snapshot
	stale   bool // a version newer than session.Version was announced
	// announced is the newest version a notification reported.
	announced int64
	// rewind is set by Reset: the next Publish replaces the session even with an
	// older version, since a store that lost its last commits (PostgreSQL crashed
	// with relaxed commits, or failed over to a replica that lagged) goes back in
	// time, and the hub must follow it rather than wait for a version that is gone.
	rewind bool
	// writing is the version this node is storing right now (Expect), whose
	// notification must not send readers to the store: Publish follows at once.
	// swallowed is the newest version announced meanwhile.
	writing, swallowed int64
	// changed is closed when the session changes; it is made when a reader first
	// asks for it (Snapshot), so sessions nobody waits on cost no channel.
	changed  chan struct{}
	nextPoll time.Time
	interval time.Duration
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{sessions: map[string]*hubEntry{}, byDevice: map[string]string{}, byConfirm: map[string]string{}}
}

func (h *Hub) entry(id string) *hubEntry {
	e := h.sessions[id]
	if e == nil {
		e = &hubEntry{}
		h.sessions[id] = e
	}
	return e
}

func (e *hubEntry) wake() {
	if e.changed != nil {
		close(e.changed)
		e.changed = nil
	}
}

// Publish records a session snapshot read from or written to the store, and wakes
// the session's waiters if it is newer than what the hub knew (or, after Reset,
// older).
func (h *Hub) Publish(s storage.QRSession) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entry(s.ID)
	if e.known && s.Version < e.session.Version && !e.rewind {
		return
	}
	moved := !e.known || s.Version != e.session.Version
	e.rewind = false
	if e.known && e.session.ConfirmTokenDigest != s.ConfirmTokenDigest {
		delete(h.byConfirm, e.session.ConfirmTokenDigest)
	}
	if s.ConfirmTokenDigest != "" {
		h.byConfirm[s.ConfirmTokenDigest] = s.ID
	}
	e.session, e.known = s, true
	if s.Version >= e.announced {
		e.stale = false
	}
	if s.DeviceCodeDigest != "" {
		h.byDevice[s.DeviceCodeDigest] = s.ID
	}
	if moved {
		e.wake()
	}
}

// Announce records that session id reached version (a store notification). Sessions
// the hub has never seen are ignored: nobody on this node waits on them.
func (h *Hub) Announce(id string, version int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.sessions[id]
	if e == nil || (e.known && version <= e.session.Version) {
		return
	}
	if e.writing != 0 && version <= e.writing {
		// Most likely this node's own write, whose Publish is on its way; if not
		// (the write loses), Settle marks the entry stale.
		e.swallowed = max(e.swallowed, version)
		return
	}
	if version > e.announced {
		e.announced = version
	}
	e.stale = true
	e.wake()
}

// Expect tells the hub that this node is about to store version of session id, so
// that the store's notification of it, which may arrive before Publish, is not
// taken for a change made elsewhere. Every Expect is followed by Settle.
func (h *Hub) Expect(id string, version int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.sessions[id]; e != nil {
		e.writing = version
	}
}

// Settle ends what Expect began, after Publish of the stored version or after the
// write failed; a version announced meanwhile that the hub has not seen marks the
// entry stale.
func (h *Hub) Settle(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.sessions[id]
	if e == nil {
		return
	}
	swallowed := e.swallowed
	e.writing, e.swallowed = 0, 0
	if swallowed > 0 && (!e.known || swallowed > e.session.Version) {
		e.announced = max(e.announced, swallowed)
		e.stale = true
		e.wake()
	}
}

// Reset marks every cached session stale and wakes every waiter: the store's
// notifications may have been missed (a listener reconnected). What the store
// answers next is taken as it is, even when older than the cached session or than
// a version announced before: the store may have lost its last commits.
func (h *Hub) Reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.sessions {
		e.stale, e.rewind, e.announced = true, true, 0
		e.wake()
	}
}

// Snapshot returns the cached session with the channel closed at its next change.
// fresh is false when the session must be (re)loaded from the store first.
func (h *Hub) Snapshot(id string) (s storage.QRSession, changed <-chan struct{}, fresh bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entry(id)
	if e.changed == nil {
		e.changed = make(chan struct{})
	}
	return e.session, e.changed, e.known && !e.stale
}

// Peek returns the cached session when the hub has it and it is fresh (no newer
// version was announced). Unlike Snapshot it adds no entry for an unknown ID.
func (h *Hub) Peek(id string) (storage.QRSession, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.sessions[id]
	if e == nil || !e.known || e.stale {
		return storage.QRSession{}, false
	}
	return e.session, true
}

// ByConfirmToken returns the fresh cached session whose confirm token digest is
// digest, if the hub has one.
func (h *Hub) ByConfirmToken(digest string) (storage.QRSession, bool) {
	h.mu.Lock()
	id, ok := h.byConfirm[digest]
	h.mu.Unlock()
	if !ok {
		return storage.QRSession{}, false
	}
	s, ok := h.Peek(id)
	if !ok || s.ConfirmTokenDigest != digest {
		return storage.QRSession{}, false
	}
	return s, true
}

// SessionID returns the ID of the session with that device code digest, if the hub
// has seen it.
func (h *Hub) SessionID(deviceCodeDigest string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id, ok := h.byDevice[deviceCodeDigest]
	return id, ok
}

// AllowPoll applies RFC 8628 §3.5 to a poll on a pending session at now: a poll
// before the interval has passed is told slow_down and the session's interval grows
// by 5 seconds. base is the interval announced when the session was created.
func (h *Hub) AllowPoll(id string, base time.Duration, now time.Time) (ok bool, interval time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entry(id)
	if e.interval == 0 {
		e.interval = base
	}
	if now.Before(e.nextPoll) {
		e.interval += 5 * time.Second
		e.nextPoll = now.Add(e.interval)
		return false, e.interval
	}
	// Until this poll is answered, a second concurrent poll is too early.
	e.nextPoll = now.Add(e.interval)
	return true, e.interval
}

// PollAnswered sets when the session's next poll is welcome: after the interval, or
// at once when the poll was a long-poll that was held until its deadline or woken by
// a change (the client has already waited, or has news to act on).
func (h *Hub) PollAnswered(id string, now time.Time, repollAtOnce bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entry(id)
	if repollAtOnce {
		e.nextPoll = now
	} else {
		e.nextPoll = now.Add(e.interval)
	}
}

// Sweep forgets sessions that expired before cutoff.
func (h *Hub) Sweep(cutoff time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, e := range h.sessions {
		if e.known && e.session.ExpiresAt.Before(cutoff) {
			delete(h.sessions, id)
			delete(h.byDevice, e.session.DeviceCodeDigest)
			delete(h.byConfirm, e.session.ConfirmTokenDigest)
		}
	}
}

// Len is the number of sessions the hub tracks.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}
