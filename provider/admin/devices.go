package admin

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/qrid/qrid/provider/audit"
	"github.com/qrid/qrid/provider/jsonapi"
	"github.com/qrid/qrid/storage"
)

// DeviceInfo is a device signed in to the mobile app, as the admin API shows it
// (never its token).
type DeviceInfo struct {
	ID          string    `json:"id"`
	AccountID   string    `json:"account_id"`
	DeviceID    string    `json:"device_id"`
	DeviceType  string    `json:"device_type"`
	Name        string    `json:"name"`
	CreatedAt   time.Time `json:"created_at"`
	SenderBound bool      `json:"sender_constrained"`
}

func deviceWhat(id string) string { return fmt.Sprintf("Device %q", id) }

// ListUserDevices returns the devices a user is signed in on (DESIGN §1c: an admin
// can list and revoke any).
func (s *Service) ListUserDevices(ctx context.Context, userID string) ([]DeviceInfo, error) {
	if _, err := s.Store.GetUser(ctx, userID); err != nil {
		return nil, storeError(err, userWhat(userID), "get")
	}
	devices, err := s.Store.ListDevices(ctx, userID)
	if err != nil {
		return nil, storeError(err, "devices", "list")
	}
	out := make([]DeviceInfo, 0, len(devices))
	for _, d := range devices {
		out = append(out, DeviceInfo{ID: d.ID, AccountID: d.AccountID, DeviceID: d.DeviceID, DeviceType: d.DeviceType,
			Name: d.Name, CreatedAt: d.CreatedAt.UTC(), SenderBound: d.DPoPThumbprint != ""})
	}
	return out, nil
}

// RevokeDevice signs a device out: its token stops working at once.
func (s *Service) RevokeDevice(ctx context.Context, id string) error {
	// Read first only so the audit trail can name the account.
	device, _ := s.Store.GetDevice(ctx, id)
	if err := s.Store.DeleteDevice(ctx, id); err != nil {
		return storeError(err, deviceWhat(id), "delete")
	}
	s.Audit.Record(ctx, storage.AuditEvent{Type: audit.DeviceRevoked, AccountID: device.AccountID, DeviceID: id, Detail: "by_admin"})
	return nil
}

type deviceList struct {
	Devices []DeviceInfo `json:"devices"`
}

func (a *api) listUserDevices(w http.ResponseWriter, r *http.Request) {
	devices, err := a.svc.ListUserDevices(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		a.fail(w, r, err)
		return
	}
	jsonapi.Write(w, http.StatusOK, deviceList{Devices: devices})
}

func (a *api) revokeDevice(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.RevokeDevice(r.Context(), mux.Vars(r)["id"]); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
