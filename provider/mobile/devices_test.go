package mobile

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	phone := e.login("alice", alicePassword, "phone-1")
	revoked := e.login("alice", alicePassword, "phone-2")
	wantStatus(t, e.send(request{method: http.MethodPost, path: "/logout", auth: revoked}), http.StatusNoContent)

	tests := []struct {
		name       string
		auth       *session
		header     http.Header
		wantStatus int
		wantCode   string
	}{
		{"ok", phone, nil, http.StatusOK, ""},
		{"ok/scheme_case_insensitive", nil, http.Header{"Authorization": {"bearer " + phone.Token}, "X-Device-Id": {"phone-1"}}, http.StatusOK, ""},
		{"fail/no_headers", nil, nil, http.StatusUnauthorized, CodeUnauthorized},
		{"fail/no_token", phone, http.Header{"Authorization": {""}}, http.StatusUnauthorized, CodeUnauthorized},
		{"fail/basic_scheme", phone, http.Header{"Authorization": {"Basic " + phone.Token}}, http.StatusUnauthorized, CodeUnauthorized},
		{"fail/empty_bearer", phone, http.Header{"Authorization": {"Bearer "}}, http.StatusUnauthorized, CodeUnauthorized},
		{"fail/unknown_token", phone, http.Header{"Authorization": {"Bearer " + revoked.Token + "x"}}, http.StatusUnauthorized, CodeUnauthorized},
		{"fail/huge_token", phone, http.Header{"Authorization": {"Bearer " + strings.Repeat("a", 300)}}, http.StatusUnauthorized, CodeUnauthorized},
		{"fail/revoked", revoked, nil, http.StatusUnauthorized, CodeUnauthorized},
		{"fail/no_device_id", phone, http.Header{"X-Device-Id": {""}}, http.StatusUnauthorized, CodeUnauthorized},
		{"fail/other_device", phone, http.Header{"X-Device-Id": {"phone-2"}}, http.StatusUnauthorized, CodeUnauthorized},
		{"fail/device_id_case", phone, http.Header{"X-Device-Id": {"PHONE-1"}}, http.StatusUnauthorized, CodeUnauthorized},
		{"fail/repeated_device_id", phone, http.Header{"X-Device-Id": {"phone-1", "phone-1"}}, http.StatusBadRequest, CodeInvalidRequest},
		{"fail/repeated_authorization", phone, http.Header{"Authorization": {"Bearer " + phone.Token, "Bearer " + phone.Token}}, http.StatusBadRequest, CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.send(request{method: http.MethodGet, path: "/devices", auth: tt.auth, header: tt.header})
			if tt.wantCode == "" {
				wantStatus(t, r, tt.wantStatus)
				return
			}
			wantError(t, r, tt.wantStatus, tt.wantCode)
			if tt.wantStatus == http.StatusUnauthorized {
				// RFC 6750 §3.1: error="invalid_token" when a token was sent but is
				// not valid for this device, nothing when there were no credentials.
				want := `Bearer realm="qrid-mobile"`
				switch tt.name {
				case "fail/unknown_token", "fail/huge_token", "fail/revoked", "fail/other_device", "fail/device_id_case":
					want += `, error="invalid_token"`
				}
				if got := r.header.Get("WWW-Authenticate"); got != want {
					t.Errorf("WWW-Authenticate %q, want %q", got, want)
				}
			}
		})
	}
	// Every authenticated route refuses a missing token.
	for _, route := range []struct{ method, path string }{
		{http.MethodPost, "/logout"}, {http.MethodGet, "/devices"}, {http.MethodDelete, "/devices/" + phone.ID},
		{http.MethodPost, "/qr/scan"}, {http.MethodPost, "/qr/confirm"},
	} {
		r := e.send(request{method: route.method, path: route.path, body: `{}`})
		wantError(t, r, http.StatusUnauthorized, CodeUnauthorized)
	}
	if _, err := e.store.GetDevice(context.Background(), phone.ID); err != nil {
		t.Errorf("the device is gone after refused calls: %v", err)
	}
}

func TestDevices(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	phone := e.login("alice", alicePassword, "phone-1")
	e.clock.Advance(time.Hour)
	tablet := e.login("alice", alicePassword, "tablet-1")
	bobs := e.login("bob", bobPassword, "bob-phone")

	r := e.send(request{method: http.MethodGet, path: "/devices", auth: phone})
	wantStatus(t, r, http.StatusOK)
	var list DeviceList
	r.json(t, &list)
	want := []DeviceInfo{
		{ID: tablet.ID, DeviceID: "tablet-1", DeviceType: "ios", Name: "Phone tablet-1", CreatedAt: testStart.Add(time.Hour)},
		{ID: phone.ID, DeviceID: "phone-1", DeviceType: "ios", Name: "Phone phone-1", CreatedAt: testStart, Current: true},
	}
	if len(list.Devices) != len(want) {
		t.Fatalf("devices %+v, want %+v", list.Devices, want)
	}
	for i := range want {
		if got := list.Devices[i]; got.ID != want[i].ID || got.DeviceID != want[i].DeviceID || got.DeviceType != want[i].DeviceType ||
			got.Name != want[i].Name || !got.CreatedAt.Equal(want[i].CreatedAt) || got.Current != want[i].Current || got.LastSeenAt != nil {
			t.Errorf("device %d: %+v, want %+v", i, got, want[i])
		}
	}
	var raw map[string][]map[string]any
	r.json(t, &raw)
	if _, ok := raw["devices"][0]["last_seen_at"]; ok {
		t.Error("last_seen_at is sent although it is unknown")
	}

	tests := []struct {
		name       string
		id         string
		wantStatus int
	}{
		{"fail/other_account", bobs.ID, http.StatusNotFound},
		{"fail/unknown", "no-such-device", http.StatusNotFound},
		{"fail/long_id", strings.Repeat("a", 200), http.StatusNotFound},
		{"ok", tablet.ID, http.StatusNoContent},
		{"fail/already_revoked", tablet.ID, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.send(request{method: http.MethodDelete, path: "/devices/" + tt.id, auth: phone})
			if tt.wantStatus == http.StatusNoContent {
				wantStatus(t, r, tt.wantStatus)
				return
			}
			wantError(t, r, tt.wantStatus, CodeNotFound)
		})
	}
	// The revoked tablet is refused at once; bob's phone still works.
	wantError(t, e.send(request{method: http.MethodGet, path: "/devices", auth: tablet}), http.StatusUnauthorized, CodeUnauthorized)
	wantStatus(t, e.send(request{method: http.MethodGet, path: "/devices", auth: bobs}), http.StatusOK)
	// A device may revoke itself.
	wantStatus(t, e.send(request{method: http.MethodDelete, path: "/devices/" + phone.ID, auth: phone}), http.StatusNoContent)
	wantError(t, e.send(request{method: http.MethodGet, path: "/devices", auth: phone}), http.StatusUnauthorized, CodeUnauthorized)
}
