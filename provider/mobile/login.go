package mobile

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/qrid/qrid/provider/admin"
	"github.com/qrid/qrid/provider/audit"
	"github.com/qrid/qrid/provider/dpop"
	"github.com/qrid/qrid/provider/jsonapi"
	"github.com/qrid/qrid/provider/password"
	"github.com/qrid/qrid/storage"
)

// Bounds of the sign-in fields.
const (
	maxUsernameLen   = 256
	maxDeviceIDLen   = 128
	maxDeviceNameLen = 100
)

// deviceTypePattern is what device_type may look like ("ios", "android", "web", "cli").
var deviceTypePattern = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// dummyHash is the hash an unknown username's password is checked against, so that
// an unknown username costs what a wrong password costs. It is made by password.Hash,
// so it always has the parameters of newly stored hashes.
var dummyHash = sync.OnceValue(func() string {
	h, err := password.Hash("qrid: no account has this password")
	if err != nil {
		panic(fmt.Sprintf("mobile: hash the stand-in password: %v", err))
	}
	return h
})

// LoginRequest is the body of POST /login.
type LoginRequest struct {
	Username   string `json:"username"`
	Password   string `json:"password"`
	DeviceID   string `json:"device_id"`
	DeviceType string `json:"device_type"`
	DeviceName string `json:"device_name"`
}

// LoginResponse is the answer to a sign-in. Token is shown only here.
type LoginResponse struct {
	Token     string `json:"token"`
	AccountID string `json:"account_id"`
	// DeviceID echoes the app's device ID; ID is qrid's ID of this sign-in.
	DeviceID string `json:"device_id"`
	ID       string `json:"id"`
	// TokenType is "DPoP" when the token is bound to the key of the sign-in's DPoP
	// proof, else "Bearer".
	TokenType string `json:"token_type"`
}

// validate checks the fields that do not depend on the store.
func (req LoginRequest) validate() *apiError {
	switch {
	case req.Username == "":
		return invalidRequest("username is required.")
	case len(req.Username) > maxUsernameLen:
		return invalidRequest("username must be at most %d bytes.", maxUsernameLen)
	case req.Password == "":
		return invalidRequest("password is required.")
	case len(req.Password) > password.MaxLen:
		return invalidRequest("password must be at most %d bytes.", password.MaxLen)
	case req.DeviceID == "":
		return invalidRequest("device_id is required.")
	case !validDeviceID(req.DeviceID):
		return invalidRequest("device_id must be 1 to %d printable ASCII characters, without leading or trailing spaces.", maxDeviceIDLen)
	case req.DeviceType == "":
		return invalidRequest("device_type is required.")
	case !deviceTypePattern.MatchString(req.DeviceType):
		return invalidRequest("device_type must be 1 to 32 characters of a-z, 0-9, '_' and '-' (e.g. ios, android, web, cli).")
	case utf8.RuneCountInString(req.DeviceName) > maxDeviceNameLen:
		return invalidRequest("device_name must be at most %d characters.", maxDeviceNameLen)
	case strings.ContainsFunc(req.DeviceName, unicode.IsControl):
		return invalidRequest("device_name must not contain control characters.")
	}
	return nil
}

// validDeviceID reports whether id is 1–128 printable ASCII characters without
// leading or trailing spaces (HTTP drops those from the X-Device-Id header).
func validDeviceID(id string) bool {
	if id == "" || len(id) > maxDeviceIDLen || id[0] == ' ' || id[len(id)-1] == ' ' {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	var req LoginRequest
	if !decode(w, r, &req) {
		return
	}
	if e := req.validate(); e != nil {
		writeError(w, e)
		return
	}
	ctx := r.Context()
	ip := clientIP(r)
	username := admin.NormalizeUsername(req.Username)

	// Every attempt is charged to the client address and to the username (known or
	// not, so the limit does not tell which usernames exist); a successful sign-in
	// is refunded below.
	now := h.now()
	if ok, wait := h.loginIP.Take(ip, now); !ok {
		h.log.InfoContext(ctx, "mobile login rate limited", "limit", "ip", "ip", ip)
		rateLimited(w, wait, "Too many sign-in attempts from this address.")
		return
	}
	if ok, wait := h.loginAccount.Take(username, now); !ok {
		h.log.InfoContext(ctx, "mobile login rate limited", "limit", "account", "ip", ip)
		rateLimited(w, wait, "Too many sign-in attempts for this account.")
		return
	}

	// A DPoP proof binds the new token to its key (RFC 9449 §5). Its jti is used up
	// before the password is checked, so a replayed sign-in costs no hashing;
	// like a wrong password, a refused proof counts against the limits above.
	var thumbprint string
	if len(r.Header.Values(dpop.HeaderName)) > 0 {
		proof, err := h.proofFor(r, "")
		if err == nil {
			err = h.useProof(r, proof)
		}
		var de *dpopError
		switch {
		case errors.As(err, &de):
			h.log.InfoContext(ctx, "mobile login failed", "reason", "invalid_dpop_proof", "detail", de.apiError.Message, "ip", ip)
			h.record(r, storage.AuditEvent{Type: audit.MobileLoginFailed, Detail: "invalid_dpop_proof"})
			writeError(w, &apiError{Status: http.StatusBadRequest, Code: CodeInvalidDPoPProof, Message: de.apiError.Message})
			return
		case err != nil:
			h.fail(w, r, err)
			return
		}
		thumbprint = proof.Thumbprint
	}

	user, err := h.Store.GetUserByUsername(ctx, username)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		// Spend what a wrong password costs, and answer the same.
		_ = password.Verify(dummyHash(), req.Password)
		h.log.InfoContext(ctx, "mobile login failed", "reason", "unknown_username", "ip", ip)
		h.record(r, storage.AuditEvent{Type: audit.MobileLoginFailed, Detail: "unknown_username"})
		writeError(w, errInvalidCredentials)
		return
	case err != nil:
		h.fail(w, r, fmt.Errorf("mobile: look up user: %w", err))
		return
	}
	if err := password.Verify(user.PasswordHash, req.Password); err != nil {
		if !errors.Is(err, password.ErrMismatch) {
			h.log.ErrorContext(ctx, "stored password hash unusable", "account_id", user.ID, "error", err)
		}
		h.log.InfoContext(ctx, "mobile login failed", "reason", "wrong_password", "account_id", user.ID, "ip", ip)
		h.record(r, storage.AuditEvent{Type: audit.MobileLoginFailed, AccountID: user.ID, Detail: "wrong_password"})
		writeError(w, errInvalidCredentials)
		return
	}
	h.loginIP.Refund(ip, now)
	h.loginAccount.Refund(username, now)

	token, err := randomString(32)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id, err := randomString(16)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	device := storage.Device{
		ID:             id,
		AccountID:      user.ID,
		DeviceID:       req.DeviceID,
		DeviceType:     req.DeviceType,
		Name:           req.DeviceName,
		TokenDigest:    h.DeviceTokens.String(token),
		DPoPThumbprint: thumbprint,
		CreatedAt:      h.now().UTC(),
	}
	// CreateDevice replaces any earlier sign-in of this (account, device_id).
	switch err := h.Store.CreateDevice(ctx, device); {
	case errors.Is(err, storage.ErrNotFound):
		// The account was deleted meanwhile.
		writeError(w, errInvalidCredentials)
		return
	case err != nil:
		h.fail(w, r, fmt.Errorf("mobile: store device: %w", err))
		return
	}
	tokenType := "Bearer"
	if thumbprint != "" {
		tokenType = dpop.Scheme
	}
	h.log.InfoContext(ctx, "mobile login", "account_id", user.ID, "device", device.ID,
		"device_type", device.DeviceType, "token_type", tokenType, "ip", ip)
	h.record(r, storage.AuditEvent{Type: audit.MobileLoginOK, AccountID: user.ID, DeviceID: device.ID,
		Detail: "device_type=" + device.DeviceType + " token_type=" + tokenType})
	jsonapi.Write(w, http.StatusOK, LoginResponse{Token: token, AccountID: user.ID, DeviceID: device.DeviceID, ID: device.ID,
		TokenType: tokenType})
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, device storage.Device) {
	// A device revoked meanwhile is signed out all the same.
	if err := h.Store.DeleteDevice(r.Context(), device.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.fail(w, r, fmt.Errorf("mobile: delete device: %w", err))
		return
	}
	h.log.InfoContext(r.Context(), "mobile logout", "account_id", device.AccountID, "device", device.ID, "ip", clientIP(r))
	h.record(r, storage.AuditEvent{Type: audit.DeviceLogout, AccountID: device.AccountID, DeviceID: device.ID})
	w.WriteHeader(http.StatusNoContent)
}

// DeviceInfo is one signed-in device in the devices list.
type DeviceInfo struct {
	ID         string     `json:"id"`
	DeviceID   string     `json:"device_id"`
	DeviceType string     `json:"device_type"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastSeenAt *time.Time `json:"last_seen_at,omitempty"`
	// Current marks the device making the request.
	Current bool `json:"current"`
}

// DeviceList is the answer of GET /devices.
type DeviceList struct {
	Devices []DeviceInfo `json:"devices"`
}

func (h *Handler) listDevices(w http.ResponseWriter, r *http.Request, device storage.Device) {
	devices, err := h.Store.ListDevices(r.Context(), device.AccountID)
	if err != nil {
		h.fail(w, r, fmt.Errorf("mobile: list devices: %w", err))
		return
	}
	out := DeviceList{Devices: make([]DeviceInfo, 0, len(devices))}
	for _, d := range devices {
		info := DeviceInfo{
			ID: d.ID, DeviceID: d.DeviceID, DeviceType: d.DeviceType, Name: d.Name,
			CreatedAt: d.CreatedAt.UTC(), Current: d.ID == device.ID,
		}
		if !d.LastSeenAt.IsZero() {
			seen := d.LastSeenAt.UTC()
			info.LastSeenAt = &seen
		}
		out.Devices = append(out.Devices, info)
	}
	jsonapi.Write(w, http.StatusOK, out)
}

func (h *Handler) deleteDevice(w http.ResponseWriter, r *http.Request, device storage.Device) {
	id := mux.Vars(r)["id"]
	if id == "" || len(id) > maxDeviceIDLen {
		writeError(w, errDeviceNotFound)
		return
	}
	target, err := h.Store.GetDevice(r.Context(), id)
	switch {
	case errors.Is(err, storage.ErrNotFound) || err == nil && target.AccountID != device.AccountID:
		// Another account's device is answered as if it did not exist.
		writeError(w, errDeviceNotFound)
		return
	case err != nil:
		h.fail(w, r, fmt.Errorf("mobile: get device: %w", err))
		return
	}
	if err := h.Store.DeleteDevice(r.Context(), id); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			writeError(w, errDeviceNotFound)
			return
		}
		h.fail(w, r, fmt.Errorf("mobile: delete device: %w", err))
		return
	}
	h.log.InfoContext(r.Context(), "mobile device revoked", "account_id", device.AccountID,
		"device", target.ID, "by_device", device.ID, "ip", clientIP(r))
	h.record(r, storage.AuditEvent{Type: audit.DeviceRevoked, AccountID: device.AccountID, DeviceID: target.ID,
		Detail: "by_device_id=" + device.ID})
	w.WriteHeader(http.StatusNoContent)
}
