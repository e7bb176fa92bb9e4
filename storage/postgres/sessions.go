package postgres

import (
	"context"

	"github.com/qrid/qrid/storage"
)

// SaveConsent creates or replaces the consent of (c.Subject, c.ClientID) in one
// statement; ErrNotFound if the user or the client does not exist.
func (s *Store) SaveConsent(ctx context.Context, c storage.Consent) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO consents (subject, client_id, scopes, granted_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (subject, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
		c.Subject, c.ClientID, list(c.Scopes), c.GrantedAt.UTC())
	return translate(err)
}

// GetConsent returns the consent of (subject, clientID).
func (s *Store) GetConsent(ctx context.Context, subject, clientID string) (storage.Consent, error) {
	var c storage.Consent
	err := s.q(ctx).QueryRow(ctx, `SELECT subject, client_id, scopes, granted_at
		FROM consents WHERE subject = $1 AND client_id = $2`, subject, clientID).
		Scan(&c.Subject, &c.ClientID, &c.Scopes, &c.GrantedAt)
	if err != nil {
		return storage.Consent{}, translate(err)
	}
	c.Scopes = fromList(c.Scopes)
	c.GrantedAt = c.GrantedAt.UTC()
	return c, nil
}

// DeleteConsent removes the consent; ErrNotFound if there is none.
func (s *Store) DeleteConsent(ctx context.Context, subject, clientID string) error {
	return expectOne(s.q(ctx).Exec(ctx, `DELETE FROM consents WHERE subject = $1 AND client_id = $2`,
		subject, clientID))
}

// CreateBrowserSession stores bs; ErrConflict if bs.ID exists, ErrNotFound if its
// subject is not a user.
func (s *Store) CreateBrowserSession(ctx context.Context, bs storage.BrowserSession) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO browser_sessions (id, subject, auth_time, amr, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		bs.ID, bs.Subject, bs.AuthTime.UTC(), list(bs.AMR), bs.CreatedAt.UTC(), bs.ExpiresAt.UTC())
	return translate(err)
}

// GetBrowserSession returns the session, expired or not.
func (s *Store) GetBrowserSession(ctx context.Context, id string) (storage.BrowserSession, error) {
	var bs storage.BrowserSession
	err := s.q(ctx).QueryRow(ctx, `SELECT id, subject, auth_time, amr, created_at, expires_at
		FROM browser_sessions WHERE id = $1`, id).
		Scan(&bs.ID, &bs.Subject, &bs.AuthTime, &bs.AMR, &bs.CreatedAt, &bs.ExpiresAt)
	if err != nil {
		return storage.BrowserSession{}, translate(err)
	}
	bs.AMR = fromList(bs.AMR)
	bs.AuthTime = bs.AuthTime.UTC()
	bs.CreatedAt = bs.CreatedAt.UTC()
	bs.ExpiresAt = bs.ExpiresAt.UTC()
	return bs, nil
}

// DeleteBrowserSession removes the session; ErrNotFound if there is none.
func (s *Store) DeleteBrowserSession(ctx context.Context, id string) error {
	return expectOne(s.q(ctx).Exec(ctx, `DELETE FROM browser_sessions WHERE id = $1`, id))
}
