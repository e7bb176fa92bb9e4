package mobile

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qrid/qrid/provider/password"
	"github.com/qrid/qrid/storage"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		body       LoginRequest
		wantStatus int
		wantCode   string
	}{
		{"ok", loginBody("alice", alicePassword, "phone-1"), http.StatusOK, ""},
		{"ok/username_normalised", loginBody("  ALICE ", alicePassword, "phone-1"), http.StatusOK, ""},
		{"fail/wrong_password", loginBody("alice", "wrong", "phone-1"), http.StatusUnauthorized, CodeInvalidCredentials},
		{"fail/other_accounts_password", loginBody("alice", bobPassword, "phone-1"), http.StatusUnauthorized, CodeInvalidCredentials},
		{"fail/unknown_user", loginBody("nobody", alicePassword, "phone-1"), http.StatusUnauthorized, CodeInvalidCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			r := e.send(request{method: http.MethodPost, path: "/login", body: tt.body})
			if tt.wantCode != "" {
				wantError(t, r, tt.wantStatus, tt.wantCode)
				if devices, _ := e.store.ListDevices(context.Background(), e.alice.ID); len(devices) != 0 {
					t.Errorf("a failed sign-in stored %d devices", len(devices))
				}
				return
			}
			wantStatus(t, r, http.StatusOK)
			var got LoginResponse
			r.json(t, &got)
			if got.AccountID != e.alice.ID || got.DeviceID != "phone-1" || got.ID == "" || len(got.Token) != 43 || got.TokenType != "Bearer" {
				t.Fatalf("answer %+v", got)
			}
			dev, err := e.store.GetDevice(context.Background(), got.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := storage.Device{ID: got.ID, AccountID: e.alice.ID, DeviceID: "phone-1", DeviceType: "ios",
				Name: "Phone phone-1", TokenDigest: dev.TokenDigest, CreatedAt: testStart}
			if dev != want {
				t.Errorf("stored %+v, want %+v", dev, want)
			}
			if dev.TokenDigest == got.Token || strings.Contains(dev.TokenDigest, got.Token) {
				t.Error("the token is stored in the clear")
			}
		})
	}
}

func TestLoginUnknownUserSameAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	wrong := e.send(request{method: http.MethodPost, path: "/login", body: loginBody("alice", "wrong", "phone-1")})
	unknown := e.send(request{method: http.MethodPost, path: "/login", body: loginBody("nobody", "wrong", "phone-1")})
	if wrong.status != unknown.status || string(wrong.body) != string(unknown.body) {
		t.Errorf("wrong password %d %s, unknown user %d %s", wrong.status, wrong.body, unknown.status, unknown.body)
	}
}

func TestLoginRealHash(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h, err := password.Hash("a real argon2id password")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateUser(context.Background(), storage.User{ID: "acct-carol", Username: "carol", PasswordHash: h, CreatedAt: testStart}); err != nil {
		t.Fatal(err)
	}
	s := e.login("Carol", "a real argon2id password", "phone-c")
	if s.AccountID != "acct-carol" {
		t.Errorf("account %q", s.AccountID)
	}
}

func TestLoginReplacesToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := e.login("alice", alicePassword, "phone-1")
	e.clock.Advance(time.Minute)
	second := e.login("alice", alicePassword, "phone-1")
	if first.Token == second.Token || first.ID == second.ID {
		t.Fatal("signing in again gave the same token or ID")
	}
	wantError(t, e.send(request{method: http.MethodGet, path: "/devices", auth: first}), http.StatusUnauthorized, CodeUnauthorized)
	r := e.send(request{method: http.MethodGet, path: "/devices", auth: second})
	wantStatus(t, r, http.StatusOK)
	var list DeviceList
	r.json(t, &list)
	if len(list.Devices) != 1 || list.Devices[0].ID != second.ID {
		t.Errorf("devices %+v, want only the new sign-in", list.Devices)
	}
}

func TestLoginRateLimits(t *testing.T) {
	t.Parallel()
	limits := func(h *Handler) {
		h.LoginPerAccount = Limit{Every: time.Minute, Burst: 2}
		h.LoginPerIP = Limit{Every: time.Minute, Burst: 4}
	}
	login := func(e *env, from, username, pw string) response {
		return e.send(request{method: http.MethodPost, path: "/login", from: from, body: loginBody(username, pw, "phone-1")})
	}

	t.Run("fail/per_account", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, limits)
		wantError(t, login(e, "127.0.0.2", "alice", "wrong"), http.StatusUnauthorized, CodeInvalidCredentials)
		wantError(t, login(e, "127.0.0.2", "alice", "wrong"), http.StatusUnauthorized, CodeInvalidCredentials)
		r := login(e, "127.0.0.2", "alice", "wrong")
		wantError(t, r, http.StatusTooManyRequests, CodeRateLimited)
		if got := r.header.Get("Retry-After"); got != "60" {
			t.Errorf("Retry-After %q, want 60", got)
		}
		// The account stays limited from another address, even with the right password.
		wantError(t, login(e, "127.0.0.3", "alice", alicePassword), http.StatusTooManyRequests, CodeRateLimited)
		// Another account from the first address is not limited.
		wantError(t, login(e, "127.0.0.2", "bob", "wrong"), http.StatusUnauthorized, CodeInvalidCredentials)
		// One attempt comes back after Every.
		e.clock.Advance(time.Minute)
		wantStatus(t, login(e, "127.0.0.3", "alice", alicePassword), http.StatusOK)
	})

	t.Run("fail/per_account_unknown_user", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, limits)
		for range 2 {
			wantError(t, login(e, "127.0.0.2", "nobody", "wrong"), http.StatusUnauthorized, CodeInvalidCredentials)
		}
		wantError(t, login(e, "127.0.0.2", "nobody", "wrong"), http.StatusTooManyRequests, CodeRateLimited)
	})

	t.Run("fail/per_ip", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, limits)
		for _, user := range []string{"alice", "bob", "alice", "bob"} {
			wantError(t, login(e, "127.0.0.4", user, "wrong"), http.StatusUnauthorized, CodeInvalidCredentials)
		}
		r := login(e, "127.0.0.4", "carol", "wrong")
		wantError(t, r, http.StatusTooManyRequests, CodeRateLimited)
		if got := r.header.Get("Retry-After"); got != "60" {
			t.Errorf("Retry-After %q, want 60", got)
		}
		// Another address is not limited.
		wantError(t, login(e, "127.0.0.5", "carol", "wrong"), http.StatusUnauthorized, CodeInvalidCredentials)
	})

	t.Run("ok/successes_do_not_count", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, limits)
		for range 6 {
			wantStatus(t, login(e, "127.0.0.6", "alice", alicePassword), http.StatusOK)
		}
		wantError(t, login(e, "127.0.0.6", "alice", "wrong"), http.StatusUnauthorized, CodeInvalidCredentials)
		wantError(t, login(e, "127.0.0.6", "alice", "wrong"), http.StatusUnauthorized, CodeInvalidCredentials)
		wantError(t, login(e, "127.0.0.6", "alice", "wrong"), http.StatusTooManyRequests, CodeRateLimited)
	})

	t.Run("ok/bad_input_does_not_count", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, limits)
		for range 5 {
			r := e.send(request{method: http.MethodPost, path: "/login", from: "127.0.0.7",
				body: LoginRequest{Username: "alice", Password: "wrong", DeviceID: "phone-1", DeviceType: "iPhone"}})
			wantError(t, r, http.StatusBadRequest, CodeInvalidRequest)
		}
		wantStatus(t, login(e, "127.0.0.7", "alice", alicePassword), http.StatusOK)
	})
}

func TestLoginValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ok := loginBody("alice", alicePassword, "phone-1")
	tests := []struct {
		name   string
		modify func(*LoginRequest)
	}{
		{"fail/no_username", func(r *LoginRequest) { r.Username = "" }},
		{"fail/long_username", func(r *LoginRequest) { r.Username = strings.Repeat("a", 257) }},
		{"fail/no_password", func(r *LoginRequest) { r.Password = "" }},
		{"fail/long_password", func(r *LoginRequest) { r.Password = strings.Repeat("p", password.MaxLen+1) }},
		{"fail/no_device_id", func(r *LoginRequest) { r.DeviceID = "" }},
		{"fail/long_device_id", func(r *LoginRequest) { r.DeviceID = strings.Repeat("d", 129) }},
		{"fail/device_id_not_ascii", func(r *LoginRequest) { r.DeviceID = "téléphone" }},
		{"fail/device_id_control", func(r *LoginRequest) { r.DeviceID = "phone\n1" }},
		{"fail/device_id_leading_space", func(r *LoginRequest) { r.DeviceID = " phone" }},
		{"fail/no_device_type", func(r *LoginRequest) { r.DeviceType = "" }},
		{"fail/device_type_upper_case", func(r *LoginRequest) { r.DeviceType = "iOS" }},
		{"fail/long_device_type", func(r *LoginRequest) { r.DeviceType = strings.Repeat("x", 33) }},
		{"fail/long_device_name", func(r *LoginRequest) { r.DeviceName = strings.Repeat("é", 101) }},
		{"fail/device_name_control", func(r *LoginRequest) { r.DeviceName = "phone\x00" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := ok
			tt.modify(&body)
			wantError(t, e.send(request{method: http.MethodPost, path: "/login", body: body}), http.StatusBadRequest, CodeInvalidRequest)
		})
	}
	if devices, _ := e.store.ListDevices(context.Background(), e.alice.ID); len(devices) != 0 {
		t.Errorf("invalid sign-ins stored %d devices", len(devices))
	}
	// The limits: 128 printable characters, 100 characters of name, no name at all.
	edge := ok
	edge.DeviceID = strings.Repeat("~", 128)
	edge.DeviceName = strings.Repeat("é", 100)
	wantStatus(t, e.send(request{method: http.MethodPost, path: "/login", body: edge}), http.StatusOK)
	edge.DeviceID, edge.DeviceName = "phone 2", ""
	wantStatus(t, e.send(request{method: http.MethodPost, path: "/login", body: edge}), http.StatusOK)
}

func TestLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	phone := e.login("alice", alicePassword, "phone-1")
	tablet := e.login("alice", alicePassword, "tablet-1")
	r := e.send(request{method: http.MethodPost, path: "/logout", auth: phone})
	wantStatus(t, r, http.StatusNoContent)
	wantError(t, e.send(request{method: http.MethodPost, path: "/logout", auth: phone}), http.StatusUnauthorized, CodeUnauthorized)
	wantError(t, e.send(request{method: http.MethodGet, path: "/devices", auth: phone}), http.StatusUnauthorized, CodeUnauthorized)
	// The account's other devices stay signed in.
	wantStatus(t, e.send(request{method: http.MethodGet, path: "/devices", auth: tablet}), http.StatusOK)
}

func TestSecurityLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.login("alice", alicePassword, "phone-1")
	e.send(request{method: http.MethodPost, path: "/login", body: loginBody("alice", "wrong-password-value", "phone-2")})
	a := e.authorize(e.tv)
	out := e.scan(s, a)
	e.confirm(s, out.ConfirmToken, false, "")
	e.send(request{method: http.MethodPost, path: "/logout", auth: s})

	logs := e.logs.String()
	for _, event := range []string{`"msg":"mobile login"`, `"msg":"mobile login failed"`, `"msg":"mobile scan"`,
		`"msg":"mobile decision"`, `"msg":"mobile logout"`, `"account_id":"acct-alice"`} {
		if !strings.Contains(logs, event) {
			t.Errorf("log lacks %s", event)
		}
	}
	for _, secret := range []string{s.Token, alicePassword, "wrong-password-value", out.ConfirmToken, a.DeviceCode} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains a secret %q", secret)
		}
	}
}
