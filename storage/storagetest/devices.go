package storagetest

import (
	"testing"
	"time"

	"github.com/qrid/qrid/storage"
)

// sampleDevice returns a DPoP-bound device of accountID with every field set; its
// token digest is derived from id.
func sampleDevice(id, accountID, deviceID string) storage.Device {
	return storage.Device{
		ID:             id,
		AccountID:      accountID,
		DeviceID:       deviceID,
		DeviceType:     "android",
		Name:           "Pixel de Zoë",
		TokenDigest:    "token-" + id,
		DPoPThumbprint: "thumbprint-" + id,
		CreatedAt:      t0,
		LastSeenAt:     t0.Add(time.Hour),
	}
}

func mustCreateDevice(t testing.TB, s storage.Storage, d storage.Device) {
	t.Helper()
	must(t, s.CreateDevice(t.Context(), d), "CreateDevice "+d.ID)
}

// assertDeviceStored fails t unless want is found by its ID and by its token.
func assertDeviceStored(t testing.TB, s storage.Storage, want storage.Device) {
	t.Helper()
	got, err := s.GetDevice(t.Context(), want.ID)
	must(t, err, "GetDevice "+want.ID)
	assertSame(t, "device", want, got)
	got, err = s.GetDeviceByToken(t.Context(), want.TokenDigest)
	must(t, err, "GetDeviceByToken "+want.TokenDigest)
	assertSame(t, "device found by token", want, got)
}

// assertDeviceGone fails t unless d is found neither by its ID nor by its token.
func assertDeviceGone(t testing.TB, s storage.Storage, d storage.Device) {
	t.Helper()
	_, err := s.GetDevice(t.Context(), d.ID)
	mustBe(t, err, storage.ErrNotFound, "GetDevice "+d.ID)
	_, err = s.GetDeviceByToken(t.Context(), d.TokenDigest)
	mustBe(t, err, storage.ErrNotFound, "GetDeviceByToken "+d.TokenDigest)
}

func assertDevices(t testing.TB, s storage.Storage, accountID string, want ...storage.Device) {
	t.Helper()
	got, err := s.ListDevices(t.Context(), accountID)
	must(t, err, "ListDevices "+accountID)
	assertSameList(t, "ListDevices "+accountID, want, got)
}

func deviceScenarios() []scenario {
	return []scenario{
		{"create_then_get_by_id_and_token", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, nil, []string{"u1"})
			want := sampleDevice("d1", "u1", "install-1")
			mustCreateDevice(t, s, want)
			assertDeviceStored(t, s, want)
		}},
		{"create_minimal_then_get", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, nil, []string{"u1"})
			want := storage.Device{ID: "d1", AccountID: "u1", DeviceID: "install-1", TokenDigest: "token-d1", CreatedAt: t0}
			mustCreateDevice(t, s, want)
			assertDeviceStored(t, s, want)
		}},
		{"create_for_unknown_account_not_found", func(t *testing.T, s storage.Storage) {
			d := sampleDevice("d1", "nobody", "install-1")
			mustBe(t, s.CreateDevice(t.Context(), d), storage.ErrNotFound, "CreateDevice")
			assertDeviceGone(t, s, d)
		}},
		{"create_duplicate_id_conflicts", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, nil, []string{"u1", "u2"})
			first := sampleDevice("d1", "u1", "install-1")
			mustCreateDevice(t, s, first)
			other := sampleDevice("d1", "u2", "install-2")
			other.TokenDigest = "token-other"
			mustBe(t, s.CreateDevice(t.Context(), other), storage.ErrConflict, "CreateDevice same ID")
			assertDeviceStored(t, s, first)
			_, err := s.GetDeviceByToken(t.Context(), "token-other")
			mustBe(t, err, storage.ErrNotFound, "GetDeviceByToken token-other")
			assertDevices(t, s, "u2")
		}},
		{"create_duplicate_token_conflicts", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, nil, []string{"u1", "u2"})
			first := sampleDevice("d1", "u1", "install-1")
			mustCreateDevice(t, s, first)
			other := sampleDevice("d2", "u2", "install-2")
			other.TokenDigest = first.TokenDigest
			mustBe(t, s.CreateDevice(t.Context(), other), storage.ErrConflict, "CreateDevice same token")
			assertDeviceStored(t, s, first)
			_, err := s.GetDevice(t.Context(), "d2")
			mustBe(t, err, storage.ErrNotFound, "GetDevice d2")
		}},
		{"create_on_the_same_device_replaces_it", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, nil, []string{"u1", "u2"})
			old := sampleDevice("d1", "u1", "install-1")
			otherInstall := sampleDevice("d2", "u1", "install-2")
			otherAccount := sampleDevice("d3", "u2", "install-1")
			for _, d := range []storage.Device{old, otherInstall, otherAccount} {
				mustCreateDevice(t, s, d)
			}
			next := sampleDevice("d4", "u1", "install-1")
			next.CreatedAt = t0.Add(time.Hour)
			next.DeviceType, next.Name, next.DPoPThumbprint = "ios", "iPhone", ""
			mustCreateDevice(t, s, next)

			assertDeviceGone(t, s, old)
			for _, d := range []storage.Device{next, otherInstall, otherAccount} {
				assertDeviceStored(t, s, d)
			}
			assertDevices(t, s, "u1", next, otherInstall)
			assertDevices(t, s, "u2", otherAccount)
		}},
		{"create_on_the_same_device_may_keep_id_and_token", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, nil, []string{"u1"})
			mustCreateDevice(t, s, sampleDevice("d1", "u1", "install-1"))
			again := sampleDevice("d1", "u1", "install-1")
			again.Name, again.LastSeenAt = "Renamed", time.Time{}
			mustCreateDevice(t, s, again)
			assertDeviceStored(t, s, again)
			assertDevices(t, s, "u1", again)
		}},
		{"create_on_the_same_device_with_a_token_of_another_conflicts", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, nil, []string{"u1"})
			old := sampleDevice("d1", "u1", "install-1")
			other := sampleDevice("d2", "u1", "install-2")
			mustCreateDevice(t, s, old)
			mustCreateDevice(t, s, other)
			next := sampleDevice("d3", "u1", "install-1")
			next.TokenDigest = other.TokenDigest
			mustBe(t, s.CreateDevice(t.Context(), next), storage.ErrConflict, "CreateDevice")
			assertDeviceStored(t, s, old)
			assertDeviceStored(t, s, other)
		}},
		{"get_missing_not_found", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, nil, []string{"u1"})
			mustCreateDevice(t, s, sampleDevice("d1", "u1", "install-1"))
			assertDeviceGone(t, s, sampleDevice("nope", "u1", "install-1"))
		}},
		{"list_empty", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, nil, []string{"u1"})
			assertDevices(t, s, "u1")
			assertDevices(t, s, "nobody")
		}},
		{"list_orders_newest_first_then_by_id_descending", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, nil, []string{"u1", "u2"})
			at := func(id string, created time.Time) storage.Device {
				d := sampleDevice(id, "u1", "install-"+id)
				d.CreatedAt = created
				return d
			}
			b, c, a, d := at("b", t0.Add(time.Hour)), at("c", t0), at("a", t0.Add(time.Hour)), at("d", t0.Add(time.Microsecond))
			for _, dev := range []storage.Device{b, c, a, d} {
				mustCreateDevice(t, s, dev)
			}
			mustCreateDevice(t, s, sampleDevice("e", "u2", "install-e"))
			assertDevices(t, s, "u1", b, a, d, c)
		}},
		{"delete_removes_only_that_device", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, nil, []string{"u1"})
			gone, kept := sampleDevice("d1", "u1", "install-1"), sampleDevice("d2", "u1", "install-2")
			mustCreateDevice(t, s, gone)
			mustCreateDevice(t, s, kept)
			must(t, s.DeleteDevice(t.Context(), "d1"), "DeleteDevice")
			assertDeviceGone(t, s, gone)
			assertDeviceStored(t, s, kept)
			assertDevices(t, s, "u1", kept)
			mustBe(t, s.DeleteDevice(t.Context(), "d1"), storage.ErrNotFound, "DeleteDevice again")
			// The slot and the token are free again.
			mustCreateDevice(t, s, gone)
		}},
		{"delete_missing_not_found", func(t *testing.T, s storage.Storage) {
			mustBe(t, s.DeleteDevice(t.Context(), "nope"), storage.ErrNotFound, "DeleteDevice")
		}},
		{"delete_user_removes_their_devices", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, nil, []string{"u1", "u2"})
			gone := []storage.Device{sampleDevice("d1", "u1", "install-1"), sampleDevice("d2", "u1", "install-2")}
			kept := sampleDevice("d3", "u2", "install-1")
			for _, d := range append(gone, kept) {
				mustCreateDevice(t, s, d)
			}
			must(t, s.DeleteUser(t.Context(), "u1"), "DeleteUser")
			for _, d := range gone {
				assertDeviceGone(t, s, d)
			}
			assertDevices(t, s, "u1")
			assertDeviceStored(t, s, kept)
		}},
		{"replacement_inside_rolled_back_transaction_is_undone", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, nil, []string{"u1"})
			old := sampleDevice("d1", "u1", "install-1")
			mustCreateDevice(t, s, old)
			tx, err := s.BeginTX(t.Context())
			must(t, err, "BeginTX")
			next := sampleDevice("d2", "u1", "install-1")
			must(t, s.CreateDevice(tx, next), "CreateDevice inside")
			must(t, s.Rollback(tx), "Rollback")
			assertDeviceStored(t, s, old)
			assertDeviceGone(t, s, next)
			assertDevices(t, s, "u1", old)
		}},
	}
}
