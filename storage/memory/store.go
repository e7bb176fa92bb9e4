package memory

import (
	"context"
	"sync"
	"time"

	"github.com/qrid/qrid/storage"
)

var _ storage.Storage = (*Store)(nil)

// Store is the in-memory backend. The zero value is not usable; call New.
type Store struct {
	// mu guards data. An open transaction holds it exclusively.
	mu   sync.RWMutex
	data data
	// qr hands QR session changes to ListenQR callers.
	qr qrHub
}

// data is everything the store keeps, with the indexes its lookups need.
type data struct {
	clients           map[string]storage.Client
	users             map[string]storage.User
	userIDsByUsername map[string]string
	signingKeys       map[string]storage.SigningKey
	tokenSessions     map[tokenKey]storage.TokenSession
	// signaturesByRequest indexes token sessions by (kind, request ID) so that
	// revoking a refresh chain does not scan every session.
	signaturesByRequest map[requestKey]map[string]struct{}
	consents            map[consentKey]storage.Consent
	browserSessions     map[string]storage.BrowserSession
	auditEvents         map[string]storage.AuditEvent
	// dpopProofs maps the used DPoP proofs to when they may be forgotten.
	dpopProofs map[dpopKey]time.Time
	// qrData holds QR sessions and devices (qr.go).
	qrData
}

type tokenKey struct {
	kind      storage.TokenKind
	signature string
}

type requestKey struct {
	kind      storage.TokenKind
	requestID string
}

type consentKey struct {
	subject  string
	clientID string
}

// New returns an empty store.
func New() *Store {
	return &Store{data: data{
		clients:             map[string]storage.Client{},
		users:               map[string]storage.User{},
		userIDsByUsername:   map[string]string{},
		signingKeys:         map[string]storage.SigningKey{},
		tokenSessions:       map[tokenKey]storage.TokenSession{},
		signaturesByRequest: map[requestKey]map[string]struct{}{},
		consents:            map[consentKey]storage.Consent{},
		browserSessions:     map[string]storage.BrowserSession{},
		auditEvents:         map[string]storage.AuditEvent{},
		dpopProofs:          map[dpopKey]time.Time{},
		qrData:              newQRData(),
	}}
}

// read runs fn with the data safe to read: under the read lock, or inside the
// transaction ctx carries.
func (s *Store) read(ctx context.Context, fn func(d *data) error) error {
	if tx := s.transactionFrom(ctx); tx != nil {
		return tx.run(func(*undoLog) error { return fn(&s.data) })
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return fn(&s.data)
}

// write runs fn with the data safe to change: under the write lock, or inside the
// transaction ctx carries, in which case fn records its changes in the undo log. fn
// must check everything before it changes anything, so that an error leaves the
// data as it was.
func (s *Store) write(ctx context.Context, fn func(d *data, u *undoLog) error) error {
	if tx := s.transactionFrom(ctx); tx != nil {
		return tx.run(func(u *undoLog) error { return fn(&s.data, u) })
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn(&s.data, nil)
}

// GarbageCollect deletes token sessions and browser sessions whose ExpiresAt is
// before now, retired signing keys whose ExpiresAt is before now, QR sessions whose
// ExpiresAt is before now - storage.QRSessionRetention, and audit events whose Time
// is before now - storage.AuditRetention, and DPoP proof records whose ExpiresAt is
// before now.
func (s *Store) GarbageCollect(ctx context.Context, now time.Time) (storage.GCResult, error) {
	var result storage.GCResult
	err := s.write(ctx, func(d *data, u *undoLog) error {
		for key, ts := range d.tokenSessions {
			if ts.ExpiresAt.Before(now) {
				d.deleteTokenSession(u, key)
				result.TokenSessions++
			}
		}
		for id, bs := range d.browserSessions {
			if bs.ExpiresAt.Before(now) {
				remove(u, d.browserSessions, id)
				result.BrowserSessions++
			}
		}
		for id, k := range d.signingKeys {
			if !k.Active() && k.ExpiresAt.Before(now) {
				remove(u, d.signingKeys, id)
				result.SigningKeys++
			}
		}
		result.QRSessions = d.collectQRSessions(u, now)
		result.AuditEvents = d.collectAuditEvents(u, now.Add(-storage.AuditRetention))
		result.DPoPProofs = d.collectDPoPProofs(u, now)
		return nil
	})
	return result, err
}

// Ping always succeeds: memory is always reachable.
func (s *Store) Ping(context.Context) error { return nil }

// Close does nothing; the store stays usable.
func (s *Store) Close() error { return nil }

// undoLog records the inverse of every change made inside a transaction. A nil
// *undoLog records nothing (a change outside a transaction).
type undoLog []func()

func (u *undoLog) push(undo func()) {
	if u != nil {
		*u = append(*u, undo)
	}
}

// replay undoes every recorded change, newest first.
func (u undoLog) replay() {
	for i := len(u) - 1; i >= 0; i-- {
		u[i]()
	}
}

// put sets m[k] = v, recording how to restore the previous entry.
func put[K comparable, V any](u *undoLog, m map[K]V, k K, v V) {
	prev, existed := m[k]
	u.push(func() {
		if existed {
			m[k] = prev
		} else {
			delete(m, k)
		}
	})
	m[k] = v
}

// remove deletes m[k], recording how to restore it.
func remove[K comparable, V any](u *undoLog, m map[K]V, k K) {
	prev, existed := m[k]
	if !existed {
		return
	}
	u.push(func() { m[k] = prev })
	delete(m, k)
}
