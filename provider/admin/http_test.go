package admin

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/qrid/qrid/storage"
)

// TestBadBodies sends malformed bodies to every route that reads one and checks the
// 4xx and that nothing changed.
func TestBadBodies(t *testing.T) {
	t.Parallel()
	huge := `{"client_name":"` + strings.Repeat("a", 70<<10) + `"}`
	tests := []struct {
		name        string
		body        string
		contentType *string
		status      int
		code        string
	}{
		{"fail/malformed JSON", `{"client_name":`, nil, http.StatusBadRequest, "invalid_request"},
		{"fail/not JSON", `client_name=x`, nil, http.StatusBadRequest, "invalid_request"},
		{"fail/unknown field", `{"client_name":"X","alg":"ES256","username":"x","password":"long enough","surprise":1}`, nil, http.StatusBadRequest, "invalid_request"},
		{"fail/wrong type", `{"client_name":1,"username":1,"alg":1}`, nil, http.StatusBadRequest, "invalid_request"},
		{"fail/array", `[]`, nil, http.StatusBadRequest, "invalid_request"},
		{"fail/string", `"x"`, nil, http.StatusBadRequest, "invalid_request"},
		{"fail/trailing object", `{}{}`, nil, http.StatusBadRequest, "invalid_request"},
		{"fail/trailing garbage", `{} x`, nil, http.StatusBadRequest, "invalid_request"},
		{"fail/oversized", huge, nil, http.StatusRequestEntityTooLarge, "request_too_large"},
		{"fail/oversized by trailing spaces", `{}` + strings.Repeat(" ", 70<<10), nil, http.StatusRequestEntityTooLarge, "request_too_large"},
		{"fail/no content type", `{"alg":"ES256"}`, ptr(""), http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"fail/form content type", `{"alg":"ES256"}`, ptr("application/x-www-form-urlencoded"), http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"fail/text content type", `{"alg":"ES256"}`, ptr("text/plain"), http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"fail/malformed content type", `{"alg":"ES256"}`, ptr("application/json; ="), http.StatusUnsupportedMediaType, "unsupported_media_type"},
	}
	e := newEnv(t)
	existing := e.createClient(webClient)
	paths := []struct{ method, path string }{
		{http.MethodPost, "/admin/v1/clients"},
		{http.MethodPut, "/admin/v1/clients/" + existing.ClientID},
		{http.MethodPost, "/admin/v1/users"},
		{http.MethodPost, "/admin/v1/keys/rotate"},
	}
	for _, tt := range tests {
		for _, p := range paths {
			t.Run(tt.name+"/"+p.method+" "+p.path, func(t *testing.T) {
				before := e.snapshot()
				r := e.send(request{method: p.method, path: p.path, body: tt.body, contentType: tt.contentType})
				wantError(t, r, tt.status, tt.code)
				if !reflect.DeepEqual(e.snapshot(), before) {
					t.Error("a refused body changed the store")
				}
				if n := len(e.keys.rotations()); n != 0 {
					t.Errorf("a refused body rotated keys (%d)", n)
				}
			})
		}
	}

	// A body is required where the route needs one.
	for _, p := range paths[:3] {
		wantError(t, e.send(request{method: p.method, path: p.path}), http.StatusBadRequest, "invalid_request")
	}
	// Content-Type parameters are fine.
	r := e.send(request{method: http.MethodPost, path: "/admin/v1/keys/rotate", body: `{"alg":"RS256"}`, contentType: ptr("application/json; charset=utf-8")})
	wantStatus(t, r, http.StatusOK)
}

func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name string
		auth string
		ok   bool
	}{
		{"fail/missing", "", false},
		{"fail/wrong token", "Bearer not-the-token", false},
		{"fail/token prefix", "Bearer " + testToken[:len(testToken)-1], false},
		{"fail/token with suffix", "Bearer " + testToken + "x", false},
		{"fail/basic scheme", "Basic " + testToken, false},
		{"fail/no scheme", testToken, false},
		{"fail/empty bearer", "Bearer ", false},
		{"ok/right token", "Bearer " + testToken, true},
		{"ok/scheme is case-insensitive", "bearer " + testToken, true},
	}
	routes := []struct{ method, path string }{
		{http.MethodGet, "/admin/v1/clients"},
		{http.MethodGet, "/admin/v1/users"},
		{http.MethodGet, "/admin/v1/keys"},
		{http.MethodDelete, "/admin/v1/clients/anything"},
		{http.MethodPost, "/admin/v1/keys/rotate"},
		{http.MethodGet, "/admin/v1/no-such-route"},
		{http.MethodGet, "/debug/pprof/heap"},
		{http.MethodGet, "/debug/pprof/goroutine"},
	}
	for _, tt := range tests {
		for _, rt := range routes {
			t.Run(tt.name+"/"+rt.method+" "+rt.path, func(t *testing.T) {
				r := e.send(request{method: rt.method, path: rt.path, auth: ptr(tt.auth)})
				if tt.ok {
					if r.status == http.StatusUnauthorized {
						t.Fatalf("refused: %s", r.body)
					}
					return
				}
				wantError(t, r, http.StatusUnauthorized, "unauthorized")
				if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="qrid-admin"` {
					t.Errorf("WWW-Authenticate %q", got)
				}
			})
		}
	}
	if n := len(e.keys.rotations()); n != 2 {
		t.Errorf("%d rotations, want 2 (the authenticated ones)", n)
	}

	// The profiles are served to the admin.
	r := e.send(request{method: http.MethodGet, path: "/debug/pprof/heap?debug=1", auth: ptr("Bearer " + testToken)})
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "heap profile") {
		t.Errorf("heap profile: %d %.200s", r.status, r.body)
	}

	// An empty admin token refuses everything, including an empty bearer.
	e2 := newEnv(t)
	e2.srv.Config.Handler = NewHandler(e2.svc, "", nil)
	for _, auth := range []string{"", "Bearer ", "Bearer x"} {
		wantError(t, e2.send(request{method: http.MethodGet, path: "/admin/v1/clients", auth: ptr(auth)}), http.StatusUnauthorized, "unauthorized")
	}
}

func TestRoutingErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, path := range []string{"/", "/admin/v1", "/admin/v1/", "/admin/v1/clients/", "/admin/v1/clients/x/y", "/admin/v2/clients", "/admin/v1/devices",
		"/admin/v1/clients/../users", "/admin/v1//clients", "/admin/v1/openapi.json/"} {
		wantError(t, e.call(http.MethodGet, path, ""), http.StatusNotFound, "not_found")
	}
	tests := []struct{ method, path, allow string }{
		{http.MethodPatch, "/admin/v1/clients", "GET, POST"},
		{http.MethodDelete, "/admin/v1/clients", "GET, POST"},
		{http.MethodPost, "/admin/v1/clients/x", "GET, PUT, DELETE"},
		{http.MethodGet, "/admin/v1/clients/x/secret", "POST"},
		{http.MethodPut, "/admin/v1/users", "GET, POST"},
		{http.MethodPut, "/admin/v1/users/x", "GET, DELETE"},
		{http.MethodPost, "/admin/v1/keys", "GET"},
		{http.MethodGet, "/admin/v1/keys/rotate", "POST"},
		{http.MethodPost, "/admin/v1/openapi.json", "GET"},
	}
	for _, tt := range tests {
		r := e.call(tt.method, tt.path, "")
		wantError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
		if got := r.header.Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
	if len(e.snapshot().clients) != 0 {
		t.Error("a refused method changed the store")
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, r := range []response{
		e.call(http.MethodPost, "/admin/v1/clients", webClient),
		e.call(http.MethodGet, "/admin/v1/clients", ""),
		e.call(http.MethodGet, "/admin/v1/clients/missing", ""),
		e.send(request{method: http.MethodGet, path: "/admin/v1/clients", auth: ptr("")}),
		e.call(http.MethodGet, "/nowhere", ""),
		e.send(request{method: http.MethodGet, path: "/admin/v1/openapi.json", auth: ptr("")}),
	} {
		if got := r.header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control %q (status %d)", got, r.status)
		}
		if got := r.header.Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type %q (status %d)", got, r.status)
		}
	}
}

// faultyStore fails or panics on chosen calls.
type faultyStore struct {
	storage.Storage
	listUsersErr    error
	listClientPanic bool
}

func (f faultyStore) ListUsers(ctx context.Context) ([]storage.User, error) {
	if f.listUsersErr != nil {
		return nil, f.listUsersErr
	}
	return f.Storage.ListUsers(ctx)
}

func (f faultyStore) ListClients(ctx context.Context) ([]storage.Client, error) {
	if f.listClientPanic {
		panic("client list corrupted")
	}
	return f.Storage.ListClients(ctx)
}

func TestInternalFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withStore(func(s storage.Storage) storage.Storage {
		return faultyStore{Storage: s, listUsersErr: errors.New("connection reset by peer"), listClientPanic: true}
	}))

	m := wantError(t, e.call(http.MethodGet, "/admin/v1/users", ""), http.StatusInternalServerError, "internal_error")
	if strings.Contains(m["message"].(string), "connection reset") {
		t.Errorf("internal details in the answer: %v", m["message"])
	}
	wantError(t, e.call(http.MethodGet, "/admin/v1/clients", ""), http.StatusInternalServerError, "internal_error")

	// The server survives and keeps serving.
	wantStatus(t, e.call(http.MethodPost, "/admin/v1/clients", webClient), http.StatusCreated)

	logs := e.logs.String()
	for _, want := range []string{"connection reset by peer", "panicked", "client list corrupted"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	info := e.createClient(webClient)
	r := e.call(http.MethodPost, "/admin/v1/clients/"+info.ClientID+"/secret", "")
	wantStatus(t, r, http.StatusOK)
	var rotated ClientInfo
	r.decode(t, &rotated)
	e.send(request{method: http.MethodGet, path: "/admin/v1/keys", auth: ptr("Bearer wrong-token-value")})

	logs := e.logs.String()
	for _, want := range []string{
		"method=POST path=/admin/v1/clients status=201 duration=",
		"method=POST path=/admin/v1/clients/" + info.ClientID + "/secret status=200",
		"method=GET path=/admin/v1/keys status=401",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	for _, secret := range []string{info.ClientSecret, rotated.ClientSecret, testToken, "wrong-token-value", "rp.example.com"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
}
