package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/qrid/qrid/storage"
)

const signingKeyColumns = `id, algorithm, private_key_sealed, public_key_jwk, created_at, retired_at, expires_at`

func scanSigningKey(row pgx.Row) (storage.SigningKey, error) {
	var (
		k                  storage.SigningKey
		retired, expiresAt pgtype.Timestamptz
	)
	if err := row.Scan(&k.ID, &k.Algorithm, &k.PrivateKeySealed, &k.PublicKeyJWK, &k.CreatedAt, &retired, &expiresAt); err != nil {
		return storage.SigningKey{}, err
	}
	k.PrivateKeySealed = fromBytes(k.PrivateKeySealed)
	k.PublicKeyJWK = fromBytes(k.PublicKeyJWK)
	k.CreatedAt = k.CreatedAt.UTC()
	k.RetiredAt = fromOptTime(retired)
	k.ExpiresAt = fromOptTime(expiresAt)
	return k, nil
}

const insertSigningKey = `INSERT INTO signing_keys (` + signingKeyColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7)`

// CreateSigningKey stores k. The partial unique index on active keys turns a second
// active key of the same algorithm into ErrConflict.
func (s *Store) CreateSigningKey(ctx context.Context, k storage.SigningKey) error {
	_, err := s.q(ctx).Exec(ctx, insertSigningKey, k.ID, k.Algorithm, bytes(k.PrivateKeySealed),
		bytes(k.PublicKeyJWK), k.CreatedAt.UTC(), optTime(k.RetiredAt), optTime(k.ExpiresAt))
	return translate(err)
}

// ListSigningKeys returns every key, newest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, translate(err)
	}
	ks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.SigningKey, error) { return scanSigningKey(r) })
	return ks, translate(err)
}

// RotateSigningKey retires the active key of next.Algorithm and stores next as the
// active key in one transaction. The table lock (which readers do not wait for)
// queues concurrent rotations and creations, so a rotation always sees the key
// stored by the one before it.
func (s *Store) RotateSigningKey(ctx context.Context, next storage.SigningKey, now, keepUntil time.Time) error {
	return s.withTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return translate(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE signing_keys SET retired_at = $2, expires_at = $3
			WHERE algorithm = $1 AND retired_at IS NULL`,
			next.Algorithm, now.UTC(), keepUntil.UTC()); err != nil {
			return translate(err)
		}
		_, err := tx.Exec(ctx, insertSigningKey, next.ID, next.Algorithm, bytes(next.PrivateKeySealed),
			bytes(next.PublicKeyJWK), next.CreatedAt.UTC(), nil, nil)
		return translate(err)
	})
}
