package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/qrid/qrid/storage"
)

const qrSessionColumns = `id, kind, device_code_digest, user_code_digest, client_id, scopes, state,
	match_code, match_choices, poll_interval, requester_ip, requester_user_agent, browser_binding,
	created_at, expires_at, account_id, device_id, confirm_token_digest, confirm_expires_at,
	scanned_at, decided_at, deny_reason, version`

// qrNotifySQL publishes a change of the row it is evaluated on ("id:version") on the
// current schema's QR channel. Evaluated in a RETURNING clause, it is queued in the
// statement's transaction and delivered when, and only if, that transaction commits.
const qrNotifySQL = `pg_notify(` + qrChannelSQL + `, id || ':' || version)`

// scanQRSession reads a row of qrSessionColumns; extra receives the columns that
// follow them (nil to skip one).
func scanQRSession(row pgx.Row, extra ...any) (storage.QRSession, error) {
	var (
		qs                                     storage.QRSession
		state                                  string
		confirmExpiresAt, scannedAt, decidedAt pgtype.Timestamptz
	)
	dest := append([]any{&qs.ID, &qs.Kind, &qs.DeviceCodeDigest, &qs.UserCodeDigest, &qs.ClientID,
		&qs.Scopes, &state, &qs.MatchCode, &qs.MatchChoices, &qs.Interval, &qs.RequesterIP,
		&qs.RequesterUserAgent, &qs.BrowserBinding, &qs.CreatedAt, &qs.ExpiresAt, &qs.AccountID,
		&qs.DeviceID, &qs.ConfirmTokenDigest, &confirmExpiresAt, &scannedAt, &decidedAt,
		&qs.DenyReason, &qs.Version}, extra...)
	if err := row.Scan(dest...); err != nil {
		return storage.QRSession{}, err
	}
	qs.State = storage.QRState(state)
	qs.Scopes = fromList(qs.Scopes)
	qs.MatchChoices = fromList(qs.MatchChoices)
	qs.CreatedAt = qs.CreatedAt.UTC()
	qs.ExpiresAt = qs.ExpiresAt.UTC()
	qs.ConfirmExpiresAt = fromOptTime(confirmExpiresAt)
	qs.ScannedAt = fromOptTime(scannedAt)
	qs.DecidedAt = fromOptTime(decidedAt)
	return qs, nil
}

// CreateQRSession stores qs with Version 1 and publishes the creation, in one
// statement. ErrConflict if the ID or a non-empty digest is taken, ErrNotFound if
// the client does not exist.
func (s *Store) CreateQRSession(ctx context.Context, qs storage.QRSession) error {
	return s.CreateQRSessionCapped(ctx, qs, 0)
}

// CreateQRSessionCapped is CreateQRSession with the cap on the client's open
// sessions (none when maxOpen is 0) checked by the inserting statement itself,
// which counts at most maxOpen rows of the (client_id, state, expires_at) index.
func (s *Store) CreateQRSessionCapped(ctx context.Context, qs storage.QRSession, maxOpen int) error {
	tag, err := s.qRelaxed(ctx).Exec(ctx, `INSERT INTO qr_sessions (`+qrSessionColumns+`)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
			$19, $20, $21, $22, 1
		WHERE $23::bigint = 0 OR (SELECT count(*) FROM (SELECT 1 FROM qr_sessions
			WHERE client_id = $5 AND state IN ('pending', 'scanned') AND expires_at > $14
			LIMIT $23) open) < $23
		RETURNING `+qrNotifySQL,
		qs.ID, qs.Kind, qs.DeviceCodeDigest, qs.UserCodeDigest, qs.ClientID, list(qs.Scopes),
		string(qs.State), qs.MatchCode, list(qs.MatchChoices), qs.Interval, qs.RequesterIP,
		qs.RequesterUserAgent, qs.BrowserBinding, qs.CreatedAt.UTC(), qs.ExpiresAt.UTC(),
		qs.AccountID, qs.DeviceID, qs.ConfirmTokenDigest, optTime(qs.ConfirmExpiresAt),
		optTime(qs.ScannedAt), optTime(qs.DecidedAt), qs.DenyReason, maxOpen)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return storage.ErrTooMany
	}
	return nil
}

// GetQRSession returns the session, expired or not.
func (s *Store) GetQRSession(ctx context.Context, id string) (storage.QRSession, error) {
	return s.getQRSession(ctx, `id`, id)
}

// GetQRSessionByDeviceCode returns the session whose device code digest is digest.
func (s *Store) GetQRSessionByDeviceCode(ctx context.Context, digest string) (storage.QRSession, error) {
	return s.getQRSession(ctx, `device_code_digest`, digest)
}

// GetQRSessionByUserCode returns the session whose user code digest is digest.
func (s *Store) GetQRSessionByUserCode(ctx context.Context, digest string) (storage.QRSession, error) {
	return s.getQRSession(ctx, `user_code_digest`, digest)
}

// GetQRSessionByConfirmToken returns the session whose confirm token digest is
// digest.
func (s *Store) GetQRSessionByConfirmToken(ctx context.Context, digest string) (storage.QRSession, error) {
	return s.getQRSession(ctx, `confirm_token_digest`, digest)
}

// getQRSession looks a session up by one of its unique columns (a constant of this
// file). An empty key means "none" and matches nothing.
func (s *Store) getQRSession(ctx context.Context, column, key string) (storage.QRSession, error) {
	if key == "" {
		return storage.QRSession{}, storage.ErrNotFound
	}
	qs, err := scanQRSession(s.q(ctx).QueryRow(ctx,
		`SELECT `+qrSessionColumns+` FROM qr_sessions WHERE `+column+` = $1`, key))
	if err != nil {
		return storage.QRSession{}, translate(err)
	}
	return qs, nil
}

// UpdateQRSession locks the session row, calls update, stores its result with the
// version incremented and publishes the change, in one transaction (a savepoint of
// the caller's transaction if ctx carries one). The notification is part of the
// transaction: listeners hear of the change exactly when it commits, and never of a
// change rolled back. The immutable fields (ID, Kind, the code digests, ClientID,
// CreatedAt) are kept from the stored row whatever update returns; so is Version,
// which only the store advances.
func (s *Store) UpdateQRSession(ctx context.Context, id string, update func(old storage.QRSession) (storage.QRSession, error)) (storage.QRSession, error) {
	var updated storage.QRSession
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		old, err := scanQRSession(tx.QueryRow(ctx,
			`SELECT `+qrSessionColumns+` FROM qr_sessions WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return translate(err)
		}
		qs, err := update(old)
		if err != nil {
			return err
		}
		updated, err = scanQRSession(tx.QueryRow(ctx, `UPDATE qr_sessions SET
				scopes = $2, state = $3, match_code = $4, match_choices = $5, poll_interval = $6,
				requester_ip = $7, requester_user_agent = $8, browser_binding = $9, expires_at = $10,
				account_id = $11, device_id = $12, confirm_token_digest = $13,
				confirm_expires_at = $14, scanned_at = $15, decided_at = $16, deny_reason = $17,
				version = version + 1
			WHERE id = $1
			RETURNING `+qrSessionColumns+`, `+qrNotifySQL,
			id, list(qs.Scopes), string(qs.State), qs.MatchCode, list(qs.MatchChoices), qs.Interval,
			qs.RequesterIP, qs.RequesterUserAgent, qs.BrowserBinding, qs.ExpiresAt.UTC(),
			qs.AccountID, qs.DeviceID, qs.ConfirmTokenDigest, optTime(qs.ConfirmExpiresAt),
			optTime(qs.ScannedAt), optTime(qs.DecidedAt), qs.DenyReason), nil)
		return translate(err)
	})
	if err != nil {
		return storage.QRSession{}, err
	}
	return updated, nil
}

// SwapQRSession stores next if the row is still at old.Version, appends events and
// publishes the change, in one statement: the update, the audit rows and the
// notification commit together or not at all. A statement that updates nothing is
// followed by a read that tells ErrConflict (another version) from ErrNotFound.
func (s *Store) SwapQRSession(ctx context.Context, old, next storage.QRSession, events ...storage.AuditEvent) (storage.QRSession, error) {
	n := len(events)
	ids, types, accounts, clients, devices, ips, details := make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times := make([]time.Time, n)
	for i, e := range events {
		ids[i], times[i], types[i], accounts[i], clients[i] = e.ID, e.Time.UTC(), e.Type, e.AccountID, e.ClientID
		devices[i], ips[i], details[i] = e.DeviceID, e.IP, e.Detail
	}
	q := s.qRelaxed(ctx)
	updated, err := scanQRSession(q.QueryRow(ctx, `WITH updated AS (
			UPDATE qr_sessions SET
				scopes = $3, state = $4, match_code = $5, match_choices = $6, poll_interval = $7,
				requester_ip = $8, requester_user_agent = $9, browser_binding = $10, expires_at = $11,
				account_id = $12, device_id = $13, confirm_token_digest = $14,
				confirm_expires_at = $15, scanned_at = $16, decided_at = $17, deny_reason = $18,
				version = version + 1
			WHERE id = $1 AND version = $2
			RETURNING `+qrSessionColumns+`,
				CASE WHEN state <> 'consumed' THEN `+qrNotifySQL+` END AS notified
		), audited AS (
			INSERT INTO audit_events (`+auditColumns+`)
			SELECT * FROM unnest($19::text[], $20::timestamptz[], $21::text[], $22::text[], $23::text[],
				$24::text[], $25::text[], $26::text[])
			WHERE EXISTS (SELECT 1 FROM updated)
		)
		SELECT `+qrSessionColumns+`, notified FROM updated`,
		old.ID, old.Version, list(next.Scopes), string(next.State), next.MatchCode, list(next.MatchChoices),
		next.Interval, next.RequesterIP, next.RequesterUserAgent, next.BrowserBinding, next.ExpiresAt.UTC(),
		next.AccountID, next.DeviceID, next.ConfirmTokenDigest, optTime(next.ConfirmExpiresAt),
		optTime(next.ScannedAt), optTime(next.DecidedAt), next.DenyReason,
		ids, times, types, accounts, clients, devices, ips, details), nil)
	if errors.Is(err, pgx.ErrNoRows) {
		var version int64
		err := q.QueryRow(ctx, `SELECT version FROM qr_sessions WHERE id = $1`, old.ID).Scan(&version)
		if err != nil {
			return storage.QRSession{}, translate(err)
		}
		return storage.QRSession{}, storage.ErrConflict
	}
	if err != nil {
		return storage.QRSession{}, translate(err)
	}
	return updated, nil
}

// CountPendingQRSessions counts clientID's sessions that are pending or scanned and
// whose ExpiresAt is after now.
func (s *Store) CountPendingQRSessions(ctx context.Context, clientID string, now time.Time) (int, error) {
	var n int
	err := s.q(ctx).QueryRow(ctx, `SELECT count(*) FROM qr_sessions
		WHERE client_id = $1 AND state IN ('pending', 'scanned') AND expires_at > $2`,
		clientID, now.UTC()).Scan(&n)
	if err != nil {
		return 0, translate(err)
	}
	return n, nil
}
