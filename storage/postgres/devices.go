package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/qrid/qrid/storage"
)

const deviceColumns = `id, account_id, device_id, device_type, name, token_digest, dpop_thumbprint,
	created_at, last_seen_at`

func scanDevice(row pgx.Row) (storage.Device, error) {
	var (
		d          storage.Device
		lastSeenAt pgtype.Timestamptz
	)
	err := row.Scan(&d.ID, &d.AccountID, &d.DeviceID, &d.DeviceType, &d.Name, &d.TokenDigest,
		&d.DPoPThumbprint, &d.CreatedAt, &lastSeenAt)
	if err != nil {
		return storage.Device{}, err
	}
	d.CreatedAt = d.CreatedAt.UTC()
	d.LastSeenAt = fromOptTime(lastSeenAt)
	return d, nil
}

// CreateDevice stores d in one statement: a device of the same (AccountID, DeviceID)
// is replaced, row and ID included, so two concurrent sign-ins on one device cannot
// both keep a token. ErrConflict if d.ID or d.TokenDigest belongs to another device,
// ErrNotFound if the account does not exist.
func (s *Store) CreateDevice(ctx context.Context, d storage.Device) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO devices (`+deviceColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT ON CONSTRAINT devices_account_device_key DO UPDATE SET
			id = excluded.id, device_type = excluded.device_type, name = excluded.name,
			token_digest = excluded.token_digest, dpop_thumbprint = excluded.dpop_thumbprint,
			created_at = excluded.created_at, last_seen_at = excluded.last_seen_at`,
		d.ID, d.AccountID, d.DeviceID, d.DeviceType, d.Name, d.TokenDigest, d.DPoPThumbprint,
		d.CreatedAt.UTC(), optTime(d.LastSeenAt))
	return translate(err)
}

// GetDeviceByToken returns the device whose token digest is tokenDigest.
func (s *Store) GetDeviceByToken(ctx context.Context, tokenDigest string) (storage.Device, error) {
	d, err := scanDevice(s.q(ctx).QueryRow(ctx,
		`SELECT `+deviceColumns+` FROM devices WHERE token_digest = $1`, tokenDigest))
	return d, translate(err)
}

// GetDevice returns the device; ErrNotFound if there is none.
func (s *Store) GetDevice(ctx context.Context, id string) (storage.Device, error) {
	d, err := scanDevice(s.q(ctx).QueryRow(ctx, `SELECT `+deviceColumns+` FROM devices WHERE id = $1`, id))
	return d, translate(err)
}

// ListDevices returns the account's devices ordered by CreatedAt, newest first, then
// by ID, greatest first.
func (s *Store) ListDevices(ctx context.Context, accountID string) ([]storage.Device, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT `+deviceColumns+` FROM devices
		WHERE account_id = $1 ORDER BY created_at DESC, id DESC`, accountID)
	if err != nil {
		return nil, translate(err)
	}
	ds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Device, error) { return scanDevice(r) })
	return ds, translate(err)
}

// DeleteDevice removes the device; ErrNotFound if there is none.
func (s *Store) DeleteDevice(ctx context.Context, id string) error {
	return expectOne(s.q(ctx).Exec(ctx, `DELETE FROM devices WHERE id = $1`, id))
}
