package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qrid/qrid/provider/admin"
	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
)

func TestAuditList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want url.Values
	}{
		{"ok/no_filter", nil, url.Values{}},
		{"ok/every_filter", []string{"--account", "u 1", "--type", "mobile.login.failed", "--since", "2030-01-02T03:04:05+02:00", "--limit", "500"},
			url.Values{"account_id": {"u 1"}, "type": {"mobile.login.failed"}, "since": {"2030-01-02T01:04:05Z"}, "limit": {"500"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var (
				mu  sync.Mutex
				got []*http.Request
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got = append(got, r)
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"events":[]}`))
			}))
			t.Cleanup(srv.Close)
			r := runQrid(t, map[string]string{"QRID_ENDPOINT": srv.URL, "QRID_ADMIN_TOKEN": "tok", "QRID_TYPE": "must not be used"}, "",
				append([]string{"audit", "list"}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1 {
				t.Fatalf("%d requests, want 1", len(got))
			}
			req := got[0]
			if req.Method != http.MethodGet || req.URL.Path != "/admin/v1/audit" || req.Header.Get("Authorization") != "Bearer tok" {
				t.Errorf("request %s %s (Authorization %q)", req.Method, req.URL, req.Header.Get("Authorization"))
			}
			if q := req.URL.Query(); q.Encode() != tt.want.Encode() {
				t.Errorf("query %q, want %q", q.Encode(), tt.want.Encode())
			}
			if strings.TrimSpace(r.stdout) != "{\n  \"events\": []\n}" {
				t.Errorf("output %q", r.stdout)
			}
		})
	}
}

func TestAuditListSinceDuration(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	path, err := auditQuery{since: "90m"}.path(now)
	if err != nil {
		t.Fatal(err)
	}
	if want := "/admin/v1/audit?since=2030-01-02T01%3A34%3A05Z"; path != want {
		t.Errorf("path %q, want %q", path, want)
	}
}

func TestAuditListBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--since", "yesterday"},
		{"--since", "-5m"},
		{"--limit", "0"},
		{"--limit", "1001"},
		{"--limit", "ten"},
		{"extra"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			api := newFakeAdmin(t, http.StatusOK, `{"events":[]}`)
			r := runQrid(t, map[string]string{"QRID_ENDPOINT": api.URL, "QRID_ADMIN_TOKEN": "tok"}, "",
				append([]string{"audit", "list"}, args...)...)
			if r.code != 1 || !strings.Contains(r.stderr, "--help") {
				t.Errorf("exit %d, stderr %q: want a usage error", r.code, r.stderr)
			}
			if n := api.count(); n != 0 {
				t.Errorf("%d requests sent for bad flags", n)
			}
		})
	}
}

// TestAuditListAgainstTheAdminAPI runs the command against the real admin handler.
func TestAuditListAgainstTheAdminAPI(t *testing.T) {
	t.Parallel()
	store := memory.New()
	ctx := context.Background()
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, e := range []storage.AuditEvent{
		{ID: "e1", Time: at, Type: "mobile.login.failed", AccountID: "u1", IP: "192.0.2.1", Detail: "wrong_password"},
		{ID: "e2", Time: at.Add(time.Minute), Type: "mobile.login.ok", AccountID: "u1"},
		{ID: "e3", Time: at.Add(2 * time.Minute), Type: "mobile.login.failed", AccountID: "u2"},
	} {
		if err := store.AppendAuditEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(admin.NewHandler(&admin.Service{Store: store}, "tok", nil))
	t.Cleanup(srv.Close)
	env := map[string]string{"QRID_ENDPOINT": srv.URL, "QRID_ADMIN_TOKEN": "tok"}

	r := runQrid(t, env, "", "audit", "list", "--account", "u1", "--type", "mobile.login.failed")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := `{"events":[{"id":"e1","time":"2030-01-02T03:04:05Z","type":"mobile.login.failed","account_id":"u1","ip":"192.0.2.1","detail":"wrong_password"}]}`
	if !jsonEqual(t, r.stdout, want) {
		t.Errorf("output %s\nwant %s", r.stdout, want)
	}

	r = runQrid(t, env, "", "audit", "list", "--type", "login.magic")
	if r.code != 1 || !strings.Contains(r.stderr, "invalid_request") {
		t.Errorf("unknown type: exit %d, stderr %q", r.code, r.stderr)
	}
}
