package memory

import (
	"context"
	"maps"
	"slices"

	"github.com/qrid/qrid/storage"
)

// CreateTokenSession stores a copy of ts; storage.ErrConflict if (Kind, Signature)
// is taken.
func (s *Store) CreateTokenSession(ctx context.Context, ts storage.TokenSession) error {
	return s.write(ctx, func(d *data, u *undoLog) error {
		if _, ok := d.tokenSessions[tokenKey{ts.Kind, ts.Signature}]; ok {
			return storage.ErrConflict
		}
		if _, ok := d.clients[ts.ClientID]; !ok {
			return storage.ErrNotFound
		}
		d.putTokenSession(u, cloneTokenSession(ts))
		return nil
	})
}

// GetTokenSession returns the session, active or not; storage.ErrNotFound if it
// does not exist.
func (s *Store) GetTokenSession(ctx context.Context, kind storage.TokenKind, signature string) (storage.TokenSession, error) {
	var ts storage.TokenSession
	err := s.read(ctx, func(d *data) error {
		stored, ok := d.tokenSessions[tokenKey{kind, signature}]
		if !ok {
			return storage.ErrNotFound
		}
		ts = cloneTokenSession(stored)
		return nil
	})
	return ts, err
}

// DeleteTokenSession removes the session; storage.ErrNotFound if it does not exist.
func (s *Store) DeleteTokenSession(ctx context.Context, kind storage.TokenKind, signature string) error {
	return s.write(ctx, func(d *data, u *undoLog) error {
		key := tokenKey{kind, signature}
		if _, ok := d.tokenSessions[key]; !ok {
			return storage.ErrNotFound
		}
		d.deleteTokenSession(u, key)
		return nil
	})
}

// DeactivateTokenSession marks an active session inactive; storage.ErrNotFound if
// it does not exist, storage.ErrConflict if it is already inactive.
func (s *Store) DeactivateTokenSession(ctx context.Context, kind storage.TokenKind, signature string) error {
	return s.write(ctx, func(d *data, u *undoLog) error {
		key := tokenKey{kind, signature}
		ts, ok := d.tokenSessions[key]
		if !ok {
			return storage.ErrNotFound
		}
		if !ts.Active {
			return storage.ErrConflict
		}
		ts.Active = false
		put(u, d.tokenSessions, key, ts)
		return nil
	})
}

// DeleteTokenSessionsByRequestID removes every session of kind that belongs to
// requestID.
func (s *Store) DeleteTokenSessionsByRequestID(ctx context.Context, kind storage.TokenKind, requestID string) error {
	return s.write(ctx, func(d *data, u *undoLog) error {
		signatures := d.signaturesByRequest[requestKey{kind, requestID}]
		for _, signature := range slices.Collect(maps.Keys(signatures)) {
			d.deleteTokenSession(u, tokenKey{kind, signature})
		}
		return nil
	})
}

// putTokenSession stores a session whose key is free and indexes it.
func (d *data) putTokenSession(u *undoLog, ts storage.TokenSession) {
	put(u, d.tokenSessions, tokenKey{ts.Kind, ts.Signature}, ts)
	rk := requestKey{ts.Kind, ts.RequestID}
	signatures, ok := d.signaturesByRequest[rk]
	if !ok {
		signatures = map[string]struct{}{}
		put(u, d.signaturesByRequest, rk, signatures)
	}
	put(u, signatures, ts.Signature, struct{}{})
}

// deleteTokenSession removes a session and its index entry.
func (d *data) deleteTokenSession(u *undoLog, key tokenKey) {
	ts, ok := d.tokenSessions[key]
	if !ok {
		return
	}
	remove(u, d.tokenSessions, key)
	rk := requestKey{ts.Kind, ts.RequestID}
	signatures := d.signaturesByRequest[rk]
	remove(u, signatures, ts.Signature)
	if len(signatures) == 0 {
		remove(u, d.signaturesByRequest, rk)
	}
}

func cloneTokenSession(ts storage.TokenSession) storage.TokenSession {
	ts.Request = slices.Clone(ts.Request)
	return ts
}
