package postgres

import (
	"context"
	"time"

	"github.com/qrid/qrid/storage"
)

// UseDPoPProof records (jkt, jti) as used until expiresAt in one conditional
// INSERT; storage.ErrConflict if the row exists already. It commits relaxed, like
// the QR steps (see the package documentation).
func (s *Store) UseDPoPProof(ctx context.Context, jkt, jti string, expiresAt time.Time) error {
	tag, err := s.qRelaxed(ctx).Exec(ctx, `INSERT INTO dpop_proofs (jkt, jti, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT ON CONSTRAINT dpop_proofs_pkey DO NOTHING`, jkt, jti, expiresAt.UTC())
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return storage.ErrConflict
	}
	return nil
}
