package mobile

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestBadInput sends every kind of malformed request to every route that takes a
// body and checks the JSON 4xx answer, and that nothing stored changed.
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	phone := e.login("alice", alicePassword, "phone-1")
	a := e.authorize(e.tv)
	out := e.scan(phone, a)
	before := e.qrSession(a.QRID)
	devicesBefore, _ := e.store.ListDevices(context.Background(), e.alice.ID)

	huge := `{"username":"` + strings.Repeat("a", 17<<10) + `"}`
	type badCase struct {
		name        string
		body        string
		contentType *string
		wantStatus  int
		wantCode    string
	}
	generic := []badCase{
		{"fail/malformed_json", `{"username":`, nil, http.StatusBadRequest, CodeInvalidRequest},
		{"fail/syntax_error", `{"username" "x"}`, nil, http.StatusBadRequest, CodeInvalidRequest},
		{"fail/unknown_field", `{"surprise":1}`, nil, http.StatusBadRequest, CodeInvalidRequest},
		{"fail/trailing_data", `{} {}`, nil, http.StatusBadRequest, CodeInvalidRequest},
		{"fail/trailing_garbage", `{}x`, nil, http.StatusBadRequest, CodeInvalidRequest},
		{"fail/array", `[]`, nil, http.StatusBadRequest, CodeInvalidRequest},
		{"fail/string", `"hello"`, nil, http.StatusBadRequest, CodeInvalidRequest},
		{"fail/null", `null`, nil, http.StatusBadRequest, CodeInvalidRequest},
		{"fail/empty_body", ``, nil, http.StatusBadRequest, CodeInvalidRequest},
		{"fail/empty_object", `{}`, nil, http.StatusBadRequest, CodeInvalidRequest},
		{"fail/too_large", huge, nil, http.StatusRequestEntityTooLarge, CodeRequestTooLarge},
		{"fail/too_large_after_object", `{}` + strings.Repeat(" ", 17<<10) + `x`, nil, http.StatusRequestEntityTooLarge, CodeRequestTooLarge},
		{"fail/no_content_type", `{}`, ptr(""), http.StatusUnsupportedMediaType, CodeUnsupportedMediaType},
		{"fail/form_content_type", `username=alice`, ptr("application/x-www-form-urlencoded"), http.StatusUnsupportedMediaType, CodeUnsupportedMediaType},
		{"fail/text_content_type", `{}`, ptr("text/plain"), http.StatusUnsupportedMediaType, CodeUnsupportedMediaType},
		{"fail/bad_content_type", `{}`, ptr("application/json; ==="), http.StatusUnsupportedMediaType, CodeUnsupportedMediaType},
	}
	routes := []struct {
		path     string
		auth     *session
		specific []badCase
	}{
		{"/login", nil, []badCase{
			{"fail/wrong_type", `{"username":1,"password":"x","device_id":"d","device_type":"ios"}`, nil, http.StatusBadRequest, CodeInvalidRequest},
			{"fail/missing_password", `{"username":"alice","device_id":"d","device_type":"ios"}`, nil, http.StatusBadRequest, CodeInvalidRequest},
			{"fail/missing_device_id", `{"username":"alice","password":"` + alicePassword + `","device_type":"ios"}`, nil, http.StatusBadRequest, CodeInvalidRequest},
			{"fail/missing_device_type", `{"username":"alice","password":"` + alicePassword + `","device_id":"d"}`, nil, http.StatusBadRequest, CodeInvalidRequest},
			{"fail/unknown_field_with_valid_login", `{"username":"alice","password":"` + alicePassword + `","device_id":"d","device_type":"ios","admin":true}`, nil, http.StatusBadRequest, CodeInvalidRequest},
			{"fail/missing_fields_with_charset_param", `{"username":"alice"}`, ptr("application/json; charset=utf-8"), http.StatusBadRequest, CodeInvalidRequest},
		}},
		{"/qr/scan", phone, []badCase{
			{"fail/both", `{"qr":"` + a.QRID + `","user_code":"` + a.UserCode + `"}`, nil, http.StatusBadRequest, CodeInvalidRequest},
			{"fail/neither_empty_strings", `{"qr":"","user_code":""}`, nil, http.StatusBadRequest, CodeInvalidRequest},
			{"fail/wrong_type", `{"qr":["` + a.QRID + `"]}`, nil, http.StatusBadRequest, CodeInvalidRequest},
			{"fail/long_qr", `{"qr":"` + strings.Repeat("q", 3000) + `"}`, nil, http.StatusBadRequest, CodeInvalidRequest},
		}},
		{"/qr/confirm", phone, []badCase{
			{"fail/missing_approve", `{"confirm_token":"` + out.ConfirmToken + `"}`, nil, http.StatusBadRequest, CodeInvalidRequest},
			{"fail/null_approve", `{"confirm_token":"` + out.ConfirmToken + `","approve":null}`, nil, http.StatusBadRequest, CodeInvalidRequest},
			{"fail/missing_token", `{"approve":false}`, nil, http.StatusBadRequest, CodeInvalidRequest},
			{"fail/approve_string", `{"confirm_token":"` + out.ConfirmToken + `","approve":"yes"}`, nil, http.StatusBadRequest, CodeInvalidRequest},
			{"fail/match_number", `{"confirm_token":"` + out.ConfirmToken + `","approve":true,"match":42}`, nil, http.StatusBadRequest, CodeInvalidRequest},
			{"fail/match_malformed", `{"confirm_token":"` + out.ConfirmToken + `","approve":true,"match":"4x"}`, nil, http.StatusBadRequest, CodeInvalidRequest},
			{"fail/match_three_digits", `{"confirm_token":"` + out.ConfirmToken + `","approve":true,"match":"420"}`, nil, http.StatusBadRequest, CodeInvalidRequest},
			{"fail/extra_field", `{"confirm_token":"` + out.ConfirmToken + `","approve":true,"match":"` + a.MatchCode + `","force":true}`, nil, http.StatusBadRequest, CodeInvalidRequest},
		}},
	}
	for _, route := range routes {
		for _, tt := range append(slices.Clone(generic), route.specific...) {
			t.Run(strings.TrimPrefix(route.path, "/")+"/"+tt.name, func(t *testing.T) {
				r := e.send(request{method: http.MethodPost, path: route.path, auth: route.auth, body: tt.body, contentType: tt.contentType})
				wantError(t, r, tt.wantStatus, tt.wantCode)
				if ct := r.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
			})
		}
	}

	after := e.qrSession(a.QRID)
	if after.Version != before.Version || after.State != before.State {
		t.Errorf("bad input changed the QR session: version %d → %d, state %s → %s", before.Version, after.Version, before.State, after.State)
	}
	devicesAfter, _ := e.store.ListDevices(context.Background(), e.alice.ID)
	if !slices.Equal(devicesBefore, devicesAfter) {
		t.Errorf("bad input changed the devices: %+v → %+v", devicesBefore, devicesAfter)
	}
	// The confirm token still works after all that.
	wantStatus(t, e.confirm(phone, out.ConfirmToken, true, a.MatchCode), http.StatusOK)
}

func TestRouting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	phone := e.login("alice", alicePassword, "phone-1")
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantCode   string
		wantAllow  string
	}{
		{"fail/get_login", http.MethodGet, "/login", http.StatusMethodNotAllowed, CodeMethodNotAllowed, "POST"},
		{"fail/put_login", http.MethodPut, "/login", http.StatusMethodNotAllowed, CodeMethodNotAllowed, "POST"},
		{"fail/get_logout", http.MethodGet, "/logout", http.StatusMethodNotAllowed, CodeMethodNotAllowed, "POST"},
		{"fail/post_devices", http.MethodPost, "/devices", http.StatusMethodNotAllowed, CodeMethodNotAllowed, "GET"},
		{"fail/get_device", http.MethodGet, "/devices/" + phone.ID, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "DELETE"},
		{"fail/get_scan", http.MethodGet, "/qr/scan", http.StatusMethodNotAllowed, CodeMethodNotAllowed, "POST"},
		{"fail/delete_confirm", http.MethodDelete, "/qr/confirm", http.StatusMethodNotAllowed, CodeMethodNotAllowed, "POST"},
		{"fail/post_openapi", http.MethodPost, "/openapi.json", http.StatusMethodNotAllowed, CodeMethodNotAllowed, "GET"},
		{"fail/unknown_route", http.MethodGet, "/nothing-here", http.StatusNotFound, CodeNotFound, ""},
		{"fail/prefix_only", http.MethodGet, "/", http.StatusNotFound, CodeNotFound, ""},
		{"fail/devices_subpath", http.MethodDelete, "/devices/a/b", http.StatusNotFound, CodeNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.send(request{method: tt.method, path: tt.path, auth: phone})
			wantError(t, r, tt.wantStatus, tt.wantCode)
			if got := r.header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow %q, want %q", got, tt.wantAllow)
			}
		})
	}
	if _, err := e.store.GetDevice(context.Background(), phone.ID); err != nil {
		t.Errorf("routing errors changed the device: %v", err)
	}
}
