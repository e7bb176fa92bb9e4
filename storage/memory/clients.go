package memory

import (
	"cmp"
	"context"
	"slices"

	"github.com/qrid/qrid/storage"
)

// CreateClient stores a copy of c; storage.ErrConflict if c.ID is taken.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	return s.write(ctx, func(d *data, u *undoLog) error {
		if _, ok := d.clients[c.ID]; ok {
			return storage.ErrConflict
		}
		put(u, d.clients, c.ID, c.Clone())
		return nil
	})
}

// GetClient returns a copy of the client; storage.ErrNotFound if it does not exist.
func (s *Store) GetClient(ctx context.Context, id string) (storage.Client, error) {
	var c storage.Client
	err := s.read(ctx, func(d *data) error {
		stored, ok := d.clients[id]
		if !ok {
			return storage.ErrNotFound
		}
		c = stored.Clone()
		return nil
	})
	return c, err
}

// ListClients returns every client ordered by CreatedAt, then ID.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	var clients []storage.Client
	err := s.read(ctx, func(d *data) error {
		clients = make([]storage.Client, 0, len(d.clients))
		for _, c := range d.clients {
			clients = append(clients, c.Clone())
		}
		return nil
	})
	slices.SortFunc(clients, func(a, b storage.Client) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return clients, err
}

// UpdateClient calls update with a copy of the client and stores what it returns,
// keeping the original ID and CreatedAt, all under the write lock (or inside the
// transaction ctx carries). update must not call the store.
func (s *Store) UpdateClient(ctx context.Context, id string, update func(old storage.Client) (storage.Client, error)) (storage.Client, error) {
	var updated storage.Client
	err := s.write(ctx, func(d *data, u *undoLog) error {
		old, ok := d.clients[id]
		if !ok {
			return storage.ErrNotFound
		}
		next, err := update(old.Clone())
		if err != nil {
			return err
		}
		next.ID, next.CreatedAt = old.ID, old.CreatedAt
		put(u, d.clients, id, next.Clone())
		updated = next.Clone()
		return nil
	})
	if err != nil {
		return storage.Client{}, err
	}
	return updated, nil
}

// DeleteClient removes the client with its token sessions, consents and QR
// sessions; storage.ErrNotFound if it does not exist.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.write(ctx, func(d *data, u *undoLog) error {
		if _, ok := d.clients[id]; !ok {
			return storage.ErrNotFound
		}
		remove(u, d.clients, id)
		for key, ts := range d.tokenSessions {
			if ts.ClientID == id {
				d.deleteTokenSession(u, key)
			}
		}
		for key := range d.consents {
			if key.clientID == id {
				remove(u, d.consents, key)
			}
		}
		d.deleteQRSessionsOf(u, id)
		return nil
	})
}
