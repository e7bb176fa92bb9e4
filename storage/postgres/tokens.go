package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/qrid/qrid/storage"
)

const tokenSessionColumns = `kind, signature, request_id, client_id, subject, active, request, created_at, expires_at`

func scanTokenSession(row pgx.Row) (storage.TokenSession, error) {
	var (
		ts   storage.TokenSession
		kind string
	)
	if err := row.Scan(&kind, &ts.Signature, &ts.RequestID, &ts.ClientID, &ts.Subject, &ts.Active,
		&ts.Request, &ts.CreatedAt, &ts.ExpiresAt); err != nil {
		return storage.TokenSession{}, err
	}
	ts.Kind = storage.TokenKind(kind)
	ts.Request = fromBytes(ts.Request)
	ts.CreatedAt = ts.CreatedAt.UTC()
	ts.ExpiresAt = ts.ExpiresAt.UTC()
	return ts, nil
}

// CreateTokenSession stores ts; ErrConflict if (Kind, Signature) exists, ErrNotFound
// if its client does not exist.
func (s *Store) CreateTokenSession(ctx context.Context, ts storage.TokenSession) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO token_sessions (`+tokenSessionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		string(ts.Kind), ts.Signature, ts.RequestID, ts.ClientID, ts.Subject, ts.Active,
		bytes(ts.Request), ts.CreatedAt.UTC(), ts.ExpiresAt.UTC())
	return translate(err)
}

// GetTokenSession returns the session, active or not.
func (s *Store) GetTokenSession(ctx context.Context, kind storage.TokenKind, signature string) (storage.TokenSession, error) {
	ts, err := scanTokenSession(s.q(ctx).QueryRow(ctx, `SELECT `+tokenSessionColumns+`
		FROM token_sessions WHERE kind = $1 AND signature = $2`, string(kind), signature))
	return ts, translate(err)
}

// DeleteTokenSession removes one session; ErrNotFound if it does not exist.
func (s *Store) DeleteTokenSession(ctx context.Context, kind storage.TokenKind, signature string) error {
	return expectOne(s.q(ctx).Exec(ctx, `DELETE FROM token_sessions WHERE kind = $1 AND signature = $2`,
		string(kind), signature))
}

// DeactivateTokenSession marks an active session inactive in one statement. The
// statement's snapshot also says whether the row existed, so a row the update did not
// change was either missing (ErrNotFound) or already inactive (ErrConflict). Of two
// concurrent calls the second waits for the first's row lock, then finds the row
// inactive.
func (s *Store) DeactivateTokenSession(ctx context.Context, kind storage.TokenKind, signature string) error {
	const sql = `
WITH u AS (
	UPDATE token_sessions SET active = false
	WHERE kind = $1 AND signature = $2 AND active
	RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM u),
       EXISTS (SELECT 1 FROM token_sessions WHERE kind = $1 AND signature = $2)`
	var updated, exists bool
	if err := s.q(ctx).QueryRow(ctx, sql, string(kind), signature).Scan(&updated, &exists); err != nil {
		return translate(err)
	}
	switch {
	case updated:
		return nil
	case exists:
		return storage.ErrConflict
	default:
		return storage.ErrNotFound
	}
}

// DeleteTokenSessionsByRequestID removes every session of kind that belongs to
// requestID; none is not an error.
func (s *Store) DeleteTokenSessionsByRequestID(ctx context.Context, kind storage.TokenKind, requestID string) error {
	_, err := s.q(ctx).Exec(ctx, `DELETE FROM token_sessions WHERE kind = $1 AND request_id = $2`,
		string(kind), requestID)
	return translate(err)
}
