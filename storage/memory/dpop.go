package memory

import (
	"context"
	"time"

	"github.com/qrid/qrid/storage"
)

// dpopKey identifies a used DPoP proof: its key's thumbprint and its jti.
type dpopKey struct {
	jkt, jti string
}

// UseDPoPProof records (jkt, jti) as used until expiresAt; storage.ErrConflict if
// it is recorded already.
func (s *Store) UseDPoPProof(ctx context.Context, jkt, jti string, expiresAt time.Time) error {
	return s.write(ctx, func(d *data, u *undoLog) error {
		key := dpopKey{jkt, jti}
		if _, used := d.dpopProofs[key]; used {
			return storage.ErrConflict
		}
		put(u, d.dpopProofs, key, expiresAt)
		return nil
	})
}

// collectDPoPProofs forgets the proofs whose ExpiresAt is before now and returns
// how many.
func (d *data) collectDPoPProofs(u *undoLog, now time.Time) int64 {
	var n int64
	for key, expiresAt := range d.dpopProofs {
		if expiresAt.Before(now) {
			remove(u, d.dpopProofs, key)
			n++
		}
	}
	return n
}
