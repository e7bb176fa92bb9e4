package mobile

import (
	"context"
	"net/http"
	"testing"

	"github.com/qrid/qrid/grants/qr"
	"github.com/qrid/qrid/provider/audit"
	"github.com/qrid/qrid/provider/digest"
	"github.com/qrid/qrid/storage"
)

// auditEnv is an env whose handler and QR service record to an audit trail.
type auditEnv struct {
	*env
	rec *audit.Recorder
	qr  *qr.Service
}

func newAuditEnv(t *testing.T) *auditEnv {
	t.Helper()
	a := &auditEnv{}
	a.env = newEnv(t, func(h *Handler) {
		a.rec = audit.NewRecorder(h.Store, audit.Options{Now: h.Now})
		h.Audit = a.rec
		digests := func(purpose string) qr.Digest {
			k, err := digest.New([]byte("0123456789abcdef0123456789abcdef-audit-secret"), purpose)
			if err != nil {
				t.Fatal(err)
			}
			return k.String
		}
		svc, err := qr.NewService(h.Store, qr.NewHub(), qr.Config{
			Issuer: testIssuer, DeviceCodes: digests("device code"), UserCodes: digests("user code"),
			ConfirmTokens: digests("confirm token"), Now: h.Now, OnEvent: a.rec.QREvent,
		})
		if err != nil {
			t.Fatal(err)
		}
		h.QR = svc
		a.qr = svc
	})
	return a
}

// events waits for the recorder and returns the trail. The clock stands still, so
// the order among the events is that of their random IDs.
func (a *auditEnv) events() []storage.AuditEvent {
	a.t.Helper()
	a.rec.Wait()
	got, err := a.store.ListAuditEvents(context.Background(), storage.AuditQuery{})
	if err != nil {
		a.t.Fatal(err)
	}
	return got
}

// only returns the one event of typ among events, failing the test unless there is
// exactly one.
func only(t *testing.T, events []storage.AuditEvent, typ string) storage.AuditEvent {
	t.Helper()
	var found []storage.AuditEvent
	for _, e := range events {
		if e.Type == typ {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s events, want 1: %+v", len(found), typ, events)
	}
	return found[0]
}

// wantEvent fails the test unless e has the type, account, device, IP and detail
// of want (ID and time are the recorder's).
func wantEvent(t *testing.T, e storage.AuditEvent, want storage.AuditEvent) {
	t.Helper()
	want.ID, want.Time = e.ID, e.Time
	if e != want {
		t.Errorf("event %+v\nwant  %+v", e, want)
	}
	if e.ID == "" || !e.Time.Equal(testStart) {
		t.Errorf("event %+v is not stamped with an ID and the time", e)
	}
}

func TestAuditLogin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body LoginRequest
		want storage.AuditEvent
	}{
		{"fail/unknown_username", loginBody("nobody", alicePassword, "phone-1"),
			storage.AuditEvent{Type: audit.MobileLoginFailed, IP: "127.0.0.9", Detail: "unknown_username"}},
		{"fail/wrong_password", loginBody("alice", "wrong", "phone-1"),
			storage.AuditEvent{Type: audit.MobileLoginFailed, AccountID: "acct-alice", IP: "127.0.0.9", Detail: "wrong_password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newAuditEnv(t)
			r := e.send(request{method: http.MethodPost, path: "/login", from: "127.0.0.9", body: tt.body})
			wantError(t, r, http.StatusUnauthorized, CodeInvalidCredentials)
			got := e.events()
			if len(got) != 1 {
				t.Fatalf("%d events, want 1: %+v", len(got), got)
			}
			wantEvent(t, got[0], tt.want)
		})
	}
	t.Run("ok", func(t *testing.T) {
		t.Parallel()
		e := newAuditEnv(t)
		dev := e.login("alice", alicePassword, "phone-1")
		got := e.events()
		if len(got) != 1 {
			t.Fatalf("%d events, want 1: %+v", len(got), got)
		}
		wantEvent(t, got[0], storage.AuditEvent{Type: audit.MobileLoginOK, AccountID: "acct-alice", DeviceID: dev.ID,
			IP: "127.0.0.1", Detail: "device_type=ios token_type=Bearer"})
	})
	t.Run("rate_limited_attempts_are_not_recorded", func(t *testing.T) {
		t.Parallel()
		e := newAuditEnv(t)
		for range DefaultLoginPerAccount.Burst + 1 {
			e.send(request{method: http.MethodPost, path: "/login", body: loginBody("alice", "wrong", "phone-1")})
		}
		if got := e.events(); len(got) != DefaultLoginPerAccount.Burst {
			t.Fatalf("%d events, want one per attempt checked (%d)", len(got), DefaultLoginPerAccount.Burst)
		}
	})
}

func TestAuditDevices(t *testing.T) {
	t.Parallel()
	e := newAuditEnv(t)
	phone := e.login("alice", alicePassword, "phone-1")
	tablet := e.login("alice", alicePassword, "tablet-1")
	wantStatus(t, e.send(request{method: http.MethodDelete, path: "/devices/" + tablet.ID, auth: phone}), http.StatusNoContent)
	wantStatus(t, e.send(request{method: http.MethodPost, path: "/logout", auth: phone}), http.StatusNoContent)
	got := e.events()
	if len(got) != 4 {
		t.Fatalf("%d events, want 4: %+v", len(got), got)
	}
	wantEvent(t, only(t, got, audit.DeviceRevoked), storage.AuditEvent{Type: audit.DeviceRevoked, AccountID: "acct-alice", DeviceID: tablet.ID,
		IP: "127.0.0.1", Detail: "by_device_id=" + phone.ID})
	wantEvent(t, only(t, got, audit.DeviceLogout), storage.AuditEvent{Type: audit.DeviceLogout, AccountID: "acct-alice", DeviceID: phone.ID, IP: "127.0.0.1"})
}

func TestAuditQRWrongMatch(t *testing.T) {
	t.Parallel()
	e := newAuditEnv(t)
	dev := e.login("alice", alicePassword, "phone-1")
	a, err := e.qr.Authorize(context.Background(), qr.AuthorizeRequest{ClientID: e.tv.ID, Matching: true})
	if err != nil {
		t.Fatal(err)
	}
	scan := e.scan(dev, a)
	wrong := scan.MatchChoices[0]
	if wrong == a.MatchCode {
		wrong = scan.MatchChoices[1]
	}
	wantError(t, e.confirm(dev, scan.ConfirmToken, true, wrong), http.StatusForbidden, "wrong_match")
	got := e.events()
	if len(got) != 3 {
		t.Fatalf("%d events, want 3: %+v", len(got), got)
	}
	wantEvent(t, only(t, got, audit.QRScanned), storage.AuditEvent{Type: audit.QRScanned, AccountID: "acct-alice", ClientID: e.tv.ID,
		DeviceID: dev.ID, IP: "127.0.0.1", Detail: "qr_id=" + a.QRID})
	wantEvent(t, only(t, got, audit.QRWrongMatch), storage.AuditEvent{Type: audit.QRWrongMatch, AccountID: "acct-alice", ClientID: e.tv.ID,
		DeviceID: dev.ID, IP: "127.0.0.1", Detail: "qr_id=" + a.QRID})
}
