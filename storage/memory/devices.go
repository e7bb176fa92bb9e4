package memory

import (
	"cmp"
	"context"
	"slices"

	"github.com/qrid/qrid/storage"
)

// CreateDevice stores d, replacing the device of the same (AccountID, DeviceID) in
// the same step. storage.ErrConflict if d.ID or d.TokenDigest belongs to another
// device, storage.ErrNotFound if the account does not exist.
func (s *Store) CreateDevice(ctx context.Context, dev storage.Device) error {
	return s.write(ctx, func(d *data, u *undoLog) error {
		slot := deviceSlot{dev.AccountID, dev.DeviceID}
		replaced, replacing := d.deviceIDsBySlot[slot]
		if _, taken := d.devices[dev.ID]; taken && (!replacing || dev.ID != replaced) {
			return storage.ErrConflict
		}
		if owner, taken := d.deviceIDsByToken[dev.TokenDigest]; taken && (!replacing || owner != replaced) {
			return storage.ErrConflict
		}
		if _, ok := d.users[dev.AccountID]; !ok {
			return storage.ErrNotFound
		}
		if replacing {
			d.deleteDevice(u, replaced)
		}
		put(u, d.devices, dev.ID, dev)
		put(u, d.deviceIDsByToken, dev.TokenDigest, dev.ID)
		put(u, d.deviceIDsBySlot, slot, dev.ID)
		return nil
	})
}

// GetDeviceByToken returns the device whose token digest is tokenDigest.
func (s *Store) GetDeviceByToken(ctx context.Context, tokenDigest string) (storage.Device, error) {
	var dev storage.Device
	err := s.read(ctx, func(d *data) error {
		id, ok := d.deviceIDsByToken[tokenDigest]
		if !ok {
			return storage.ErrNotFound
		}
		dev = d.devices[id]
		return nil
	})
	return dev, err
}

// GetDevice returns the device; storage.ErrNotFound if it does not exist.
func (s *Store) GetDevice(ctx context.Context, id string) (storage.Device, error) {
	var dev storage.Device
	err := s.read(ctx, func(d *data) error {
		stored, ok := d.devices[id]
		if !ok {
			return storage.ErrNotFound
		}
		dev = stored
		return nil
	})
	return dev, err
}

// ListDevices returns the account's devices ordered by CreatedAt, newest first, then
// by ID, greatest first.
func (s *Store) ListDevices(ctx context.Context, accountID string) ([]storage.Device, error) {
	var devices []storage.Device
	err := s.read(ctx, func(d *data) error {
		devices = []storage.Device{}
		for _, dev := range d.devices {
			if dev.AccountID == accountID {
				devices = append(devices, dev)
			}
		}
		return nil
	})
	slices.SortFunc(devices, func(a, b storage.Device) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	return devices, err
}

// DeleteDevice removes the device; storage.ErrNotFound if it does not exist.
func (s *Store) DeleteDevice(ctx context.Context, id string) error {
	return s.write(ctx, func(d *data, u *undoLog) error {
		if _, ok := d.devices[id]; !ok {
			return storage.ErrNotFound
		}
		d.deleteDevice(u, id)
		return nil
	})
}

// deleteDevice removes the device with its index entries.
func (d *data) deleteDevice(u *undoLog, id string) {
	dev, ok := d.devices[id]
	if !ok {
		return
	}
	remove(u, d.devices, id)
	remove(u, d.deviceIDsByToken, dev.TokenDigest)
	remove(u, d.deviceIDsBySlot, deviceSlot{dev.AccountID, dev.DeviceID})
}

// deleteDevicesOf removes every device of the account.
func (d *data) deleteDevicesOf(u *undoLog, accountID string) {
	for id, dev := range d.devices {
		if dev.AccountID == accountID {
			d.deleteDevice(u, id)
		}
	}
}
