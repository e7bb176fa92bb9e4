package memory

import (
	"context"
	"slices"

	"github.com/qrid/qrid/storage"
)

// SaveConsent creates or replaces the consent of (c.Subject, c.ClientID).
func (s *Store) SaveConsent(ctx context.Context, c storage.Consent) error {
	return s.write(ctx, func(d *data, u *undoLog) error {
		c.Scopes = slices.Clone(c.Scopes)
		put(u, d.consents, consentKey{c.Subject, c.ClientID}, c)
		return nil
	})
}

// GetConsent returns the consent; storage.ErrNotFound if there is none.
func (s *Store) GetConsent(ctx context.Context, subject, clientID string) (storage.Consent, error) {
	var c storage.Consent
	err := s.read(ctx, func(d *data) error {
		stored, ok := d.consents[consentKey{subject, clientID}]
		if !ok {
			return storage.ErrNotFound
		}
		c = stored
		c.Scopes = slices.Clone(stored.Scopes)
		return nil
	})
	return c, err
}

// DeleteConsent removes the consent; storage.ErrNotFound if there is none.
func (s *Store) DeleteConsent(ctx context.Context, subject, clientID string) error {
	return s.write(ctx, func(d *data, u *undoLog) error {
		key := consentKey{subject, clientID}
		if _, ok := d.consents[key]; !ok {
			return storage.ErrNotFound
		}
		remove(u, d.consents, key)
		return nil
	})
}

// CreateBrowserSession stores a copy of bs; storage.ErrConflict if bs.ID is taken.
func (s *Store) CreateBrowserSession(ctx context.Context, bs storage.BrowserSession) error {
	return s.write(ctx, func(d *data, u *undoLog) error {
		if _, ok := d.browserSessions[bs.ID]; ok {
			return storage.ErrConflict
		}
		bs.AMR = slices.Clone(bs.AMR)
		put(u, d.browserSessions, bs.ID, bs)
		return nil
	})
}

// GetBrowserSession returns the session, expired or not; storage.ErrNotFound if it
// does not exist.
func (s *Store) GetBrowserSession(ctx context.Context, id string) (storage.BrowserSession, error) {
	var bs storage.BrowserSession
	err := s.read(ctx, func(d *data) error {
		stored, ok := d.browserSessions[id]
		if !ok {
			return storage.ErrNotFound
		}
		bs = stored
		bs.AMR = slices.Clone(stored.AMR)
		return nil
	})
	return bs, err
}

// DeleteBrowserSession removes the session; storage.ErrNotFound if it does not
// exist.
func (s *Store) DeleteBrowserSession(ctx context.Context, id string) error {
	return s.write(ctx, func(d *data, u *undoLog) error {
		if _, ok := d.browserSessions[id]; !ok {
			return storage.ErrNotFound
		}
		remove(u, d.browserSessions, id)
		return nil
	})
}
