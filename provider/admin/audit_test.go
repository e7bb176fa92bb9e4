package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qrid/qrid/provider/audit"
	"github.com/qrid/qrid/storage"
)

// seedAudit stores events e1 (oldest) to e5 (newest), one minute apart.
func seedAudit(t *testing.T, e *env) {
	t.Helper()
	seed := []storage.AuditEvent{
		{ID: "e1", Type: audit.MobileLoginFailed, AccountID: "u1", IP: "192.0.2.1", Detail: "wrong_password"},
		{ID: "e2", Type: audit.MobileLoginOK, AccountID: "u1", DeviceID: "d1", IP: "192.0.2.1"},
		{ID: "e3", Type: audit.MobileLoginFailed, AccountID: "u2", IP: "192.0.2.2"},
		{ID: "e4", Type: audit.QRApproved, AccountID: "u1", ClientID: "tv", DeviceID: "d1"},
		{ID: "e5", Type: audit.ClientCreated, ClientID: "tv"},
	}
	for i, ev := range seed {
		ev.Time = testNow.Add(time.Duration(i-4) * time.Minute)
		if err := e.mem.AppendAuditEvent(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
}

func auditIDs(t *testing.T, r response) []string {
	t.Helper()
	var out struct {
		Events []AuditEventInfo `json:"events"`
	}
	r.decode(t, &out)
	if out.Events == nil {
		t.Fatalf("no events array in %s", r.body)
	}
	ids := []string{}
	for _, ev := range out.Events {
		ids = append(ids, ev.ID)
	}
	return ids
}

func TestAuditList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seedAudit(t, e)
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"ok/all_newest_first", "", []string{"e5", "e4", "e3", "e2", "e1"}},
		{"ok/account", "account_id=u1", []string{"e4", "e2", "e1"}},
		{"ok/type", "type=mobile.login.failed", []string{"e3", "e1"}},
		{"ok/account_and_type", "account_id=u1&type=mobile.login.failed", []string{"e1"}},
		{"ok/since_is_inclusive", "since=" + url.QueryEscape(testNow.Add(-2*time.Minute).Format(time.RFC3339)), []string{"e5", "e4", "e3"}},
		{"ok/since_with_offset", "since=" + url.QueryEscape(testNow.Add(-time.Minute).In(time.FixedZone("", 5*3600)).Format(time.RFC3339)), []string{"e5", "e4"}},
		{"ok/limit", "limit=2", []string{"e5", "e4"}},
		{"ok/limit_max", "limit=1000", []string{"e5", "e4", "e3", "e2", "e1"}},
		{"ok/nothing_matches", "account_id=nobody", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := e.call(http.MethodGet, "/admin/v1/audit?"+tt.query, "")
			wantStatus(t, r, http.StatusOK)
			if got := auditIDs(t, r); !slices.Equal(got, tt.want) {
				t.Errorf("events %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("ok/fields", func(t *testing.T) {
		t.Parallel()
		r := e.call(http.MethodGet, "/admin/v1/audit?account_id=u1&limit=1", "")
		wantStatus(t, r, http.StatusOK)
		want := `{"events":[{"id":"e4","time":"2030-01-02T03:03:05Z","type":"qr.approved","account_id":"u1","client_id":"tv","device_id":"d1"}]}`
		var got, w any
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal([]byte(want), &w)
		gotJSON, _ := json.Marshal(got)
		wantJSON, _ := json.Marshal(w)
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("answer %s\nwant   %s", r.body, want)
		}
	})
}

func TestAuditListDefaultLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range DefaultAuditLimit + 1 {
		ev := storage.AuditEvent{ID: strings.Repeat("x", i+1), Time: testNow, Type: audit.QRScanned}
		if err := e.mem.AppendAuditEvent(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	r := e.call(http.MethodGet, "/admin/v1/audit", "")
	wantStatus(t, r, http.StatusOK)
	if got := auditIDs(t, r); len(got) != DefaultAuditLimit {
		t.Errorf("%d events without limit, want %d", len(got), DefaultAuditLimit)
	}
}

func TestAuditListBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, query := range []string{
		"type=login.magic",
		"type=",
		"since=yesterday",
		"since=2030-01-02",
		"since=2030-01-02T03:04:05",
		"limit=0",
		"limit=1001",
		"limit=-1",
		"limit=ten",
		"limit=1.5",
		"account_id=" + strings.Repeat("a", 257),
		"account_id=u1&account_id=u2",
		"acount_id=u1",
		"account_id=%zz",
		"account_id=u1;type=qr.scanned",
	} {
		t.Run(query[:min(len(query), 40)], func(t *testing.T) {
			t.Parallel()
			wantError(t, e.call(http.MethodGet, "/admin/v1/audit?"+query, ""), http.StatusBadRequest, CodeInvalidRequest)
		})
	}
	t.Run("wrong_method", func(t *testing.T) {
		t.Parallel()
		r := e.call(http.MethodPost, "/admin/v1/audit", "{}")
		wantError(t, r, http.StatusMethodNotAllowed, CodeMethodNotAllowed)
		if got := r.header.Get("Allow"); got != "GET" {
			t.Errorf("Allow %q, want GET", got)
		}
	})
	t.Run("no_token", func(t *testing.T) {
		t.Parallel()
		wantError(t, e.send(request{method: http.MethodGet, path: "/admin/v1/audit", auth: ptr("")}), http.StatusUnauthorized, CodeUnauthorized)
	})
}

func withAudit(e *env) {
	e.svc.Audit = audit.NewRecorder(e.mem, audit.Options{Now: func() time.Time { return testNow }})
}

func TestAuditRecordsAdminChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withAudit)
	ctx := context.Background()
	c := e.createClient(`{"client_name":"TV","grant_types":["urn:ietf:params:oauth:grant-type:device_code"]}`)
	wantStatus(t, e.call(http.MethodPost, "/admin/v1/clients/"+c.ClientID+"/secret", ""), http.StatusOK)
	wantStatus(t, e.call(http.MethodDelete, "/admin/v1/clients/"+c.ClientID, ""), http.StatusNoContent)
	r := e.call(http.MethodPost, "/admin/v1/users", `{"username":"Alice","password":"correct horse battery"}`)
	wantStatus(t, r, http.StatusCreated)
	var u UserInfo
	r.decode(t, &u)
	if err := e.mem.CreateDevice(ctx, storage.Device{ID: "dev-1", AccountID: u.ID, DeviceID: "phone", TokenDigest: "t", CreatedAt: testNow}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, e.call(http.MethodDelete, "/admin/v1/devices/dev-1", ""), http.StatusNoContent)
	wantStatus(t, e.call(http.MethodDelete, "/admin/v1/users/"+u.ID, ""), http.StatusNoContent)
	wantStatus(t, e.call(http.MethodPost, "/admin/v1/keys/rotate", `{"alg":"RS256"}`), http.StatusOK)
	// Refused changes are not recorded.
	wantStatus(t, e.call(http.MethodDelete, "/admin/v1/users/"+u.ID, ""), http.StatusNotFound)
	wantStatus(t, e.call(http.MethodDelete, "/admin/v1/devices/dev-1", ""), http.StatusNotFound)

	e.svc.Audit.Wait()
	events, err := e.mem.ListAuditEvents(ctx, storage.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]storage.AuditEvent{}
	for _, ev := range events {
		if _, dup := got[ev.Type]; dup {
			t.Errorf("two %s events", ev.Type)
		}
		ev.ID, ev.Time = "", time.Time{}
		got[ev.Type] = ev
	}
	want := map[string]storage.AuditEvent{
		audit.ClientCreated:       {Type: audit.ClientCreated, ClientID: c.ClientID, Detail: "name=TV"},
		audit.ClientSecretRotated: {Type: audit.ClientSecretRotated, ClientID: c.ClientID},
		audit.ClientDeleted:       {Type: audit.ClientDeleted, ClientID: c.ClientID},
		audit.UserCreated:         {Type: audit.UserCreated, AccountID: u.ID, Detail: "username=alice"},
		audit.DeviceRevoked:       {Type: audit.DeviceRevoked, AccountID: u.ID, DeviceID: "dev-1", Detail: "by_admin"},
		audit.UserDeleted:         {Type: audit.UserDeleted, AccountID: u.ID},
		audit.KeysRotated:         {Type: audit.KeysRotated, Detail: "alg=RS256"},
	}
	if len(got) != len(want) {
		t.Errorf("%d event types recorded, want %d: %+v", len(got), len(want), got)
	}
	for typ, w := range want {
		if got[typ] != w {
			t.Errorf("%s: recorded %+v, want %+v", typ, got[typ], w)
		}
	}
}

func TestAuditTypesMatchOpenAPI(t *testing.T) {
	t.Parallel()
	var doc struct {
		Components struct {
			Schemas struct {
				AuditEvent struct {
					Properties struct {
						Type struct {
							Enum []string `json:"enum"`
						} `json:"type"`
					} `json:"properties"`
				} `json:"AuditEvent"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.Components.Schemas.AuditEvent.Properties.Type.Enum; !slices.Equal(got, audit.Types) {
		t.Errorf("openapi.json lists the types %v, audit.Types are %v", got, audit.Types)
	}
}
