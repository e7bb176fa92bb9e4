package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/qrid/qrid/storage"
)

// qrData is what the store keeps of QR sessions and devices, with the indexes their
// lookups need. It is embedded in data.
type qrData struct {
	qrSessions map[string]storage.QRSession
	// qrIDsByDeviceCode, qrIDsByUserCode and qrIDsByConfirmToken index QR sessions by
	// their digests. An empty digest means "none": it is not indexed, not unique and
	// never found.
	qrIDsByDeviceCode   map[string]string
	qrIDsByUserCode     map[string]string
	qrIDsByConfirmToken map[string]string
	// openQRIDsByClient holds, per client, the IDs of its sessions that are pending
	// or scanned (expired or not), so that CountPendingQRSessions reads only those.
	openQRIDsByClient map[string]map[string]struct{}

	devices          map[string]storage.Device
	deviceIDsByToken map[string]string
	deviceIDsBySlot  map[deviceSlot]string
}

// deviceSlot is what a device is unique by besides its ID and token: one sign-in per
// app installation and account.
type deviceSlot struct {
	accountID string
	deviceID  string
}

func newQRData() qrData {
	return qrData{
		qrSessions:          map[string]storage.QRSession{},
		qrIDsByDeviceCode:   map[string]string{},
		qrIDsByUserCode:     map[string]string{},
		qrIDsByConfirmToken: map[string]string{},
		openQRIDsByClient:   map[string]map[string]struct{}{},
		devices:             map[string]storage.Device{},
		deviceIDsByToken:    map[string]string{},
		deviceIDsBySlot:     map[deviceSlot]string{},
	}
}

// CreateQRSession stores a copy of qs with Version 1 and publishes the creation.
// storage.ErrConflict if the ID or a non-empty digest is taken, storage.ErrNotFound
// if the client does not exist.
func (s *Store) CreateQRSession(ctx context.Context, qs storage.QRSession) error {
	return s.CreateQRSessionCapped(ctx, qs, 0)
}

// CreateQRSessionCapped is CreateQRSession with the cap on the client's open
// sessions (none when maxOpen is 0), checked in the same write.
func (s *Store) CreateQRSessionCapped(ctx context.Context, qs storage.QRSession, maxOpen int) error {
	return s.write(ctx, func(d *data, u *undoLog) error {
		if maxOpen > 0 && d.countOpenQRSessions(qs.ClientID, qs.CreatedAt) >= maxOpen {
			return storage.ErrTooMany
		}
		if _, ok := d.qrSessions[qs.ID]; ok {
			return storage.ErrConflict
		}
		for ids, digest := range d.qrDigests(qs) {
			if _, taken := lookupDigest(ids, digest); taken {
				return storage.ErrConflict
			}
		}
		if _, ok := d.clients[qs.ClientID]; !ok {
			return storage.ErrNotFound
		}
		if err := checkQRState(qs.State); err != nil {
			return err
		}
		qs.Version = 1
		d.putQRSession(u, qs)
		s.publishQR(ctx, qrChange{qs.ID, qs.Version})
		return nil
	})
}

// GetQRSession returns a copy of the session, expired or not.
func (s *Store) GetQRSession(ctx context.Context, id string) (storage.QRSession, error) {
	return s.getQRSession(ctx, func(d *data) (string, bool) {
		_, ok := d.qrSessions[id]
		return id, ok
	})
}

// GetQRSessionByDeviceCode returns the session whose device code digest is digest.
func (s *Store) GetQRSessionByDeviceCode(ctx context.Context, digest string) (storage.QRSession, error) {
	return s.getQRSession(ctx, func(d *data) (string, bool) { return lookupDigest(d.qrIDsByDeviceCode, digest) })
}

// GetQRSessionByUserCode returns the session whose user code digest is digest.
func (s *Store) GetQRSessionByUserCode(ctx context.Context, digest string) (storage.QRSession, error) {
	return s.getQRSession(ctx, func(d *data) (string, bool) { return lookupDigest(d.qrIDsByUserCode, digest) })
}

// GetQRSessionByConfirmToken returns the session whose confirm token digest is
// digest.
func (s *Store) GetQRSessionByConfirmToken(ctx context.Context, digest string) (storage.QRSession, error) {
	return s.getQRSession(ctx, func(d *data) (string, bool) { return lookupDigest(d.qrIDsByConfirmToken, digest) })
}

// getQRSession returns a copy of the session find names; storage.ErrNotFound when it
// names none.
func (s *Store) getQRSession(ctx context.Context, find func(d *data) (string, bool)) (storage.QRSession, error) {
	var qs storage.QRSession
	err := s.read(ctx, func(d *data) error {
		id, ok := find(d)
		if !ok {
			return storage.ErrNotFound
		}
		qs = cloneQRSession(d.qrSessions[id])
		return nil
	})
	return qs, err
}

func lookupDigest(ids map[string]string, digest string) (string, bool) {
	if digest == "" {
		return "", false
	}
	id, ok := ids[digest]
	return id, ok
}

// UpdateQRSession calls update with a copy of the session and stores what it
// returns with Version incremented, under the write lock (or inside the transaction
// ctx carries), then publishes the change: at once, or when that transaction
// commits. The immutable fields (ID, Kind, the code digests, ClientID, CreatedAt)
// are kept from the stored session whatever update returns; so is Version, which
// only the store advances. A confirm token digest taken by another session is
// storage.ErrConflict. update must not call the store.
func (s *Store) UpdateQRSession(ctx context.Context, id string, update func(old storage.QRSession) (storage.QRSession, error)) (storage.QRSession, error) {
	var updated storage.QRSession
	err := s.write(ctx, func(d *data, u *undoLog) error {
		old, ok := d.qrSessions[id]
		if !ok {
			return storage.ErrNotFound
		}
		next, err := update(cloneQRSession(old))
		if err != nil {
			return err
		}
		next.ID, next.Kind, next.ClientID, next.CreatedAt = old.ID, old.Kind, old.ClientID, old.CreatedAt
		next.DeviceCodeDigest, next.UserCodeDigest = old.DeviceCodeDigest, old.UserCodeDigest
		next.Version = old.Version + 1
		if owner, ok := lookupDigest(d.qrIDsByConfirmToken, next.ConfirmTokenDigest); ok && owner != id {
			return storage.ErrConflict
		}
		if err := checkQRState(next.State); err != nil {
			return err
		}
		d.putQRSession(u, next)
		updated = cloneQRSession(next)
		s.publishQR(ctx, qrChange{id, next.Version})
		return nil
	})
	if err != nil {
		return storage.QRSession{}, err
	}
	return updated, nil
}

// SwapQRSession stores next if the stored session is at old.Version, and appends
// events, in one write.
func (s *Store) SwapQRSession(ctx context.Context, old, next storage.QRSession, events ...storage.AuditEvent) (storage.QRSession, error) {
	var updated storage.QRSession
	err := s.write(ctx, func(d *data, u *undoLog) error {
		stored, ok := d.qrSessions[old.ID]
		if !ok {
			return storage.ErrNotFound
		}
		if stored.Version != old.Version {
			return storage.ErrConflict
		}
		next := cloneQRSession(next)
		next.ID, next.Kind, next.ClientID, next.CreatedAt = stored.ID, stored.Kind, stored.ClientID, stored.CreatedAt
		next.DeviceCodeDigest, next.UserCodeDigest = stored.DeviceCodeDigest, stored.UserCodeDigest
		next.Version = stored.Version + 1
		if owner, ok := lookupDigest(d.qrIDsByConfirmToken, next.ConfirmTokenDigest); ok && owner != stored.ID {
			return storage.ErrConflict
		}
		if err := checkQRState(next.State); err != nil {
			return err
		}
		for _, e := range events {
			if _, taken := d.auditEvents[e.ID]; taken {
				return storage.ErrConflict
			}
			e.Time = e.Time.UTC()
			put(u, d.auditEvents, e.ID, e)
		}
		d.putQRSession(u, next)
		updated = cloneQRSession(next)
		if next.State != storage.QRConsumed {
			s.publishQR(ctx, qrChange{next.ID, next.Version})
		}
		return nil
	})
	if err != nil {
		return storage.QRSession{}, err
	}
	return updated, nil
}

// CountPendingQRSessions counts clientID's sessions that are pending or scanned and
// whose ExpiresAt is after now.
func (s *Store) CountPendingQRSessions(ctx context.Context, clientID string, now time.Time) (int, error) {
	n := 0
	err := s.read(ctx, func(d *data) error {
		n = d.countOpenQRSessions(clientID, now)
		return nil
	})
	return n, err
}

// countOpenQRSessions counts clientID's sessions pending or scanned that expire
// after now.
func (d *data) countOpenQRSessions(clientID string, now time.Time) int {
	n := 0
	for id := range d.openQRIDsByClient[clientID] {
		if d.qrSessions[id].ExpiresAt.After(now) {
			n++
		}
	}
	return n
}

// checkQRState refuses a state the contract does not know, as the SQL backend's
// CHECK constraint does.
func checkQRState(state storage.QRState) error {
	switch state {
	case storage.QRPending, storage.QRScanned, storage.QRApproved, storage.QRConsumed, storage.QRDenied:
		return nil
	}
	return fmt.Errorf("memory: invalid QR session state %q", state)
}

// putQRSession stores a copy of qs, replacing the session of the same ID and its
// index entries.
func (d *data) putQRSession(u *undoLog, qs storage.QRSession) {
	if old, ok := d.qrSessions[qs.ID]; ok {
		d.unindexQRSession(u, old)
	}
	put(u, d.qrSessions, qs.ID, cloneQRSession(qs))
	for ids, digest := range d.qrDigests(qs) {
		if digest != "" {
			put(u, ids, digest, qs.ID)
		}
	}
	if open(qs) {
		ids := d.openQRIDsByClient[qs.ClientID]
		if ids == nil {
			ids = map[string]struct{}{}
			put(u, d.openQRIDsByClient, qs.ClientID, ids)
		}
		put(u, ids, qs.ID, struct{}{})
	}
}

// open reports whether qs counts against its client's cap on pending sessions
// (expiry aside).
func open(qs storage.QRSession) bool {
	return qs.State == storage.QRPending || qs.State == storage.QRScanned
}

// deleteQRSession removes the session with its index entries.
func (d *data) deleteQRSession(u *undoLog, id string) {
	if old, ok := d.qrSessions[id]; ok {
		d.unindexQRSession(u, old)
		remove(u, d.qrSessions, id)
	}
}

// deleteQRSessionsOf removes every QR session of the client.
func (d *data) deleteQRSessionsOf(u *undoLog, clientID string) {
	for id, qs := range d.qrSessions {
		if qs.ClientID == clientID {
			d.deleteQRSession(u, id)
		}
	}
}

// collectQRSessions removes the QR sessions whose ExpiresAt is before
// now - storage.QRSessionRetention and returns how many it removed.
func (d *data) collectQRSessions(u *undoLog, now time.Time) int64 {
	cutoff := now.Add(-storage.QRSessionRetention)
	var n int64
	for id, qs := range d.qrSessions {
		if qs.ExpiresAt.Before(cutoff) {
			d.deleteQRSession(u, id)
			n++
		}
	}
	return n
}

func (d *data) unindexQRSession(u *undoLog, qs storage.QRSession) {
	for ids, digest := range d.qrDigests(qs) {
		if digest != "" {
			remove(u, ids, digest)
		}
	}
	if ids := d.openQRIDsByClient[qs.ClientID]; ids != nil {
		remove(u, ids, qs.ID)
		if len(ids) == 0 {
			remove(u, d.openQRIDsByClient, qs.ClientID)
		}
	}
}

// qrDigests yields each digest index with qs's key in it.
func (d *data) qrDigests(qs storage.QRSession) func(yield func(map[string]string, string) bool) {
	return func(yield func(map[string]string, string) bool) {
		_ = yield(d.qrIDsByDeviceCode, qs.DeviceCodeDigest) &&
			yield(d.qrIDsByUserCode, qs.UserCodeDigest) &&
			yield(d.qrIDsByConfirmToken, qs.ConfirmTokenDigest)
	}
}

func cloneQRSession(qs storage.QRSession) storage.QRSession {
	qs.Scopes = slices.Clone(qs.Scopes)
	qs.MatchChoices = slices.Clone(qs.MatchChoices)
	return qs
}
