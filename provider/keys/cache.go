package keys

import (
	"context"
	"crypto"
	"fmt"
	"log/slog"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/qrid/qrid/storage"
)

// publicEntry is one stored key as the JWKS sees it.
type publicEntry struct {
	jwk       jose.JSONWebKey
	active    bool
	expiresAt time.Time
}

// visible reports whether the key belongs in the JWKS at now: active keys always,
// retired keys until their ExpiresAt.
func (e *publicEntry) visible(now time.Time) bool {
	return e.active || e.expiresAt.After(now)
}

// signingSlot is the active key of one algorithm, or why there is none.
type signingSlot struct {
	key Key
	err error
}

// snapshot is an immutable view of the stored keys, shared by every reader.
type snapshot struct {
	loaded  time.Time
	public  []publicEntry // every readable stored key, newest first
	byKID   map[string]*publicEntry
	signing [len(algorithms)]signingSlot
}

func (s *snapshot) lookup(kid string, now time.Time) (crypto.PublicKey, bool) {
	e, ok := s.byKID[kid]
	if !ok || !e.visible(now) {
		return nil, false
	}
	return e.jwk.Key, true
}

// fresh returns the snapshot, re-reading the store first when it is missing or older
// than maxAge.
func (m *Manager) fresh(ctx context.Context, maxAge time.Duration) (*snapshot, error) {
	s := m.snap.Load()
	if s != nil && m.now().Sub(s.loaded) < maxAge {
		return s, nil
	}
	return m.reload(ctx, s)
}

// reload re-reads the store unless another caller replaced seen while this one
// waited its turn, in which case that newer snapshot is returned.
func (m *Manager) reload(ctx context.Context, seen *snapshot) (*snapshot, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.unlock()
	if s := m.snap.Load(); s != seen {
		return s, nil
	}
	return m.loadLocked(ctx)
}

// lock takes the right to read the store and replace the snapshot; it gives up when
// ctx ends.
func (m *Manager) lock(ctx context.Context) error {
	select {
	case m.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *Manager) unlock() { <-m.sem }

// loadLocked reads every stored key, unseals the active ones not unsealed before and
// publishes the new snapshot. The caller holds the lock.
func (m *Manager) loadLocked(ctx context.Context) (*snapshot, error) {
	now := m.now()
	rows, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: reading signing keys: %w", err)
	}
	s := &snapshot{
		loaded: now,
		public: make([]publicEntry, 0, len(rows)),
		byKID:  make(map[string]*publicEntry, len(rows)),
	}
	activeRows := [len(algorithms)]*storage.SigningKey{}
	activeJWK := [len(algorithms)]jose.JSONWebKey{}
	activeErr := [len(algorithms)]error{}
	for i := range rows {
		row := &rows[i]
		idx, known := algIndex(row.Algorithm)
		if !known {
			m.log.Warn("ignoring a stored signing key of an unsupported algorithm",
				slog.String("kid", row.ID), slog.String("alg", row.Algorithm))
			continue
		}
		isActive := row.Active()
		// Rows come newest first: the first active row of an algorithm is its key.
		first := isActive && activeRows[idx] == nil && activeErr[idx] == nil
		jwk, err := parsePublic(*row)
		if err != nil {
			m.log.Error("ignoring an unreadable signing key", slog.String("kid", row.ID), slog.Any("error", err))
			if first {
				activeErr[idx] = err
			}
			continue
		}
		if _, dup := s.byKID[row.ID]; dup {
			continue
		}
		s.public = append(s.public, publicEntry{jwk: jwk, active: isActive, expiresAt: row.ExpiresAt})
		if first {
			activeRows[idx] = row
			activeJWK[idx] = jwk
		}
	}
	// The slice is final: pointers into it stay valid.
	for i := range s.public {
		s.byKID[s.public[i].jwk.KeyID] = &s.public[i]
	}

	unsealed := make(map[string]crypto.Signer, len(algorithms))
	for idx, alg := range algorithms {
		row := activeRows[idx]
		switch {
		case activeErr[idx] != nil:
			s.signing[idx].err = activeErr[idx]
			continue
		case row == nil:
			s.signing[idx].err = fmt.Errorf("%w for %s: has the key manager been initialised?", ErrNoActiveKey, alg)
			continue
		}
		priv, ok := m.unsealed[row.ID]
		if !ok {
			priv, err = m.sealer.unseal(*row, activeJWK[idx].Key)
			if err != nil {
				m.log.Error("cannot use the active signing key", slog.String("kid", row.ID),
					slog.String("alg", alg), slog.Any("error", err))
				s.signing[idx].err = err
				continue
			}
		}
		unsealed[row.ID] = priv
		s.signing[idx].key = Key{ID: row.ID, Algorithm: alg, Private: priv}
		if old := m.snap.Load(); old == nil || old.signing[idx].key.ID != row.ID {
			m.log.Info("signing with key", slog.String("alg", alg), slog.String("kid", row.ID))
		}
	}
	// Only the active keys stay unsealed in memory; retired ones are never needed.
	m.unsealed = unsealed
	m.snap.Store(s)
	return s, nil
}
