package memory

import (
	"cmp"
	"context"
	"slices"

	"github.com/qrid/qrid/storage"
)

// CreateUser stores u; storage.ErrConflict if u.ID or u.Username is taken.
func (s *Store) CreateUser(ctx context.Context, usr storage.User) error {
	return s.write(ctx, func(d *data, u *undoLog) error {
		if _, ok := d.users[usr.ID]; ok {
			return storage.ErrConflict
		}
		if _, ok := d.userIDsByUsername[usr.Username]; ok {
			return storage.ErrConflict
		}
		put(u, d.users, usr.ID, usr)
		put(u, d.userIDsByUsername, usr.Username, usr.ID)
		return nil
	})
}

// GetUser returns the user; storage.ErrNotFound if it does not exist.
func (s *Store) GetUser(ctx context.Context, id string) (storage.User, error) {
	var usr storage.User
	err := s.read(ctx, func(d *data) error {
		stored, ok := d.users[id]
		if !ok {
			return storage.ErrNotFound
		}
		usr = stored
		return nil
	})
	return usr, err
}

// GetUserByUsername returns the user whose username is exactly username;
// storage.ErrNotFound if there is none.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (storage.User, error) {
	var usr storage.User
	err := s.read(ctx, func(d *data) error {
		id, ok := d.userIDsByUsername[username]
		if !ok {
			return storage.ErrNotFound
		}
		usr = d.users[id]
		return nil
	})
	return usr, err
}

// ListUsers returns every user ordered by CreatedAt, then ID.
func (s *Store) ListUsers(ctx context.Context) ([]storage.User, error) {
	var users []storage.User
	err := s.read(ctx, func(d *data) error {
		users = make([]storage.User, 0, len(d.users))
		for _, usr := range d.users {
			users = append(users, usr)
		}
		return nil
	})
	slices.SortFunc(users, func(a, b storage.User) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return users, err
}

// DeleteUser removes the user with their consents, browser sessions, token
// sessions and devices; storage.ErrNotFound if the user does not exist.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.write(ctx, func(d *data, u *undoLog) error {
		usr, ok := d.users[id]
		if !ok {
			return storage.ErrNotFound
		}
		remove(u, d.users, id)
		remove(u, d.userIDsByUsername, usr.Username)
		for key := range d.consents {
			if key.subject == id {
				remove(u, d.consents, key)
			}
		}
		for sid, bs := range d.browserSessions {
			if bs.Subject == id {
				remove(u, d.browserSessions, sid)
			}
		}
		for key, ts := range d.tokenSessions {
			if ts.Subject == id {
				d.deleteTokenSession(u, key)
			}
		}
		d.deleteDevicesOf(u, id)
		return nil
	})
}
