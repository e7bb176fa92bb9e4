package memory

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/qrid/qrid/storage"
)

// CreateSigningKey stores k; storage.ErrConflict if k.ID is taken or k is active and
// an active key of k.Algorithm exists.
func (s *Store) CreateSigningKey(ctx context.Context, k storage.SigningKey) error {
	return s.write(ctx, func(d *data, u *undoLog) error {
		if _, ok := d.signingKeys[k.ID]; ok {
			return storage.ErrConflict
		}
		if _, ok := d.activeSigningKey(k.Algorithm); ok && k.Active() {
			return storage.ErrConflict
		}
		put(u, d.signingKeys, k.ID, cloneSigningKey(k))
		return nil
	})
}

// ListSigningKeys returns every key, newest CreatedAt first (ties by ID).
func (s *Store) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	var keys []storage.SigningKey
	err := s.read(ctx, func(d *data) error {
		keys = make([]storage.SigningKey, 0, len(d.signingKeys))
		for _, k := range d.signingKeys {
			keys = append(keys, cloneSigningKey(k))
		}
		return nil
	})
	slices.SortFunc(keys, func(a, b storage.SigningKey) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return keys, err
}

// RotateSigningKey retires the active key of next.Algorithm (RetiredAt = now,
// ExpiresAt = keepUntil) and stores next, in one step; storage.ErrConflict, with
// nothing changed, if next.ID is taken.
func (s *Store) RotateSigningKey(ctx context.Context, next storage.SigningKey, now, keepUntil time.Time) error {
	return s.write(ctx, func(d *data, u *undoLog) error {
		if _, ok := d.signingKeys[next.ID]; ok {
			return storage.ErrConflict
		}
		if active, ok := d.activeSigningKey(next.Algorithm); ok {
			active.RetiredAt, active.ExpiresAt = now, keepUntil
			put(u, d.signingKeys, active.ID, active)
		}
		put(u, d.signingKeys, next.ID, cloneSigningKey(next))
		return nil
	})
}

func (d *data) activeSigningKey(algorithm string) (storage.SigningKey, bool) {
	for _, k := range d.signingKeys {
		if k.Algorithm == algorithm && k.Active() {
			return k, true
		}
	}
	return storage.SigningKey{}, false
}

func cloneSigningKey(k storage.SigningKey) storage.SigningKey {
	k.PrivateKeySealed = slices.Clone(k.PrivateKeySealed)
	k.PublicKeyJWK = slices.Clone(k.PublicKeyJWK)
	return k
}
