package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// fakeAdmin is an admin API that records the requests it gets and answers each
// with the same canned response.
type fakeAdmin struct {
	*httptest.Server
	status int
	body   string

	mu       sync.Mutex
	requests []recorded
}

type recorded struct {
	method, path, auth, contentType, body string
}

func newFakeAdmin(t *testing.T, status int, body string) *fakeAdmin {
	t.Helper()
	f := &fakeAdmin{status: status, body: body}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.requests = append(f.requests, recorded{r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)})
		f.mu.Unlock()
		if f.body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, f.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAdmin) only(t *testing.T) recorded {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) != 1 {
		t.Fatalf("the admin API got %d requests, want 1: %+v", len(f.requests), f.requests)
	}
	return f.requests[0]
}

func (f *fakeAdmin) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

// jsonEqual reports whether two JSON texts hold the same value.
func jsonEqual(t *testing.T, got, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q is not JSON: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

func TestAdminCommands(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		stdin      string
		status     int
		answer     string
		wantMethod string
		wantPath   string
		wantBody   string // JSON; "" means no body
	}{
		{
			name: "ok/clients create from flags",
			args: []string{"clients", "create", "--name", "Example site",
				"--redirect-uri", "https://example.com/cb,1", "--redirect-uri", "https://example.com/cb2",
				"--post-logout-redirect-uri", "https://example.com/",
				"--grant-type", "authorization_code", "--grant-type", "refresh_token",
				"--scope", "openid email", "--auth-method", "client_secret_post",
				"--logo-uri", "https://example.com/logo.png", "--client-uri", "https://example.com",
				"--id-token-alg", "RS256", "--first-party", "--client-id", "example"},
			status: 201, answer: `{"client_id":"example","client_secret":"s3cret"}`,
			wantMethod: "POST", wantPath: "/admin/v1/clients",
			wantBody: `{"client_id":"example","client_name":"Example site",
				"redirect_uris":["https://example.com/cb,1","https://example.com/cb2"],
				"post_logout_redirect_uris":["https://example.com/"],
				"grant_types":["authorization_code","refresh_token"],"scope":"openid email",
				"token_endpoint_auth_method":"client_secret_post","logo_uri":"https://example.com/logo.png",
				"client_uri":"https://example.com","id_token_signed_response_alg":"RS256","first_party":true}`,
		},
		{
			name:   "ok/clients create sends first_party false only when asked",
			args:   []string{"clients", "create", "--name", "n", "--first-party=false"},
			status: 201, answer: `{}`,
			wantMethod: "POST", wantPath: "/admin/v1/clients",
			wantBody: `{"client_name":"n","first_party":false}`,
		},
		{
			name:   "ok/clients create from metadata on stdin",
			args:   []string{"clients", "create", "--metadata", "-"},
			stdin:  `{"client_name":"raw","redirect_uris":["https://r.example/cb"],"software_id":"x"}`,
			status: 201, answer: `{"client_id":"abc"}`,
			wantMethod: "POST", wantPath: "/admin/v1/clients",
			wantBody: `{"client_name":"raw","redirect_uris":["https://r.example/cb"],"software_id":"x"}`,
		},
		{
			name: "ok/clients list", args: []string{"clients", "list"},
			status: 200, answer: `{"clients":[{"client_id":"a"}]}`,
			wantMethod: "GET", wantPath: "/admin/v1/clients",
		},
		{
			name: "ok/clients get escapes the id", args: []string{"clients", "get", "a b/c"},
			status: 200, answer: `{"client_id":"a b/c"}`,
			wantMethod: "GET", wantPath: "/admin/v1/clients/a%20b%2Fc",
		},
		{
			name: "ok/clients delete", args: []string{"clients", "delete", "demo"},
			status:     204,
			wantMethod: "DELETE", wantPath: "/admin/v1/clients/demo",
		},
		{
			name: "ok/clients rotate-secret", args: []string{"clients", "rotate-secret", "demo"},
			status: 200, answer: `{"client_id":"demo","client_secret":"new"}`,
			wantMethod: "POST", wantPath: "/admin/v1/clients/demo/secret",
		},
		{
			name:   "ok/users create reads the password from stdin",
			args:   []string{"users", "create", "--username", "alice", "--name", "Alice Example", "--email", "alice@example.com"},
			stdin:  "correct horse battery\r\nignored second line\n",
			status: 201, answer: `{"id":"u1","username":"alice"}`,
			wantMethod: "POST", wantPath: "/admin/v1/users",
			wantBody: `{"username":"alice","password":"correct horse battery","name":"Alice Example","email":"alice@example.com"}`,
		},
		{
			name:   "ok/users create with a password without newline",
			args:   []string{"users", "create", "--username", "bob"},
			stdin:  "pässword",
			status: 201, answer: `{"id":"u2"}`,
			wantMethod: "POST", wantPath: "/admin/v1/users",
			wantBody: `{"username":"bob","password":"pässword"}`,
		},
		{
			name: "ok/users list", args: []string{"users", "list"},
			status: 200, answer: `{"users":[]}`,
			wantMethod: "GET", wantPath: "/admin/v1/users",
		},
		{
			name: "ok/users get", args: []string{"users", "get", "u1"},
			status: 200, answer: `{"id":"u1"}`,
			wantMethod: "GET", wantPath: "/admin/v1/users/u1",
		},
		{
			name: "ok/users delete", args: []string{"users", "delete", "u1"},
			status:     204,
			wantMethod: "DELETE", wantPath: "/admin/v1/users/u1",
		},
		{
			name: "ok/keys list", args: []string{"keys", "list"},
			status: 200, answer: `{"keys":[{"kid":"k1","alg":"ES256","active":true}]}`,
			wantMethod: "GET", wantPath: "/admin/v1/keys",
		},
		{
			name: "ok/keys rotate", args: []string{"keys", "rotate"},
			status: 200, answer: `{"keys":[]}`,
			wantMethod: "POST", wantPath: "/admin/v1/keys/rotate",
		},
		{
			name: "ok/keys rotate one algorithm", args: []string{"keys", "rotate", "--alg", "RS256"},
			status: 200, answer: `{"keys":[]}`,
			wantMethod: "POST", wantPath: "/admin/v1/keys/rotate",
			wantBody: `{"alg":"RS256"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newFakeAdmin(t, tt.status, tt.answer)
			env := map[string]string{"QRID_ENDPOINT": api.URL, "QRID_ADMIN_TOKEN": "tok-123",
				"QRID_NAME": "must not be used", "QRID_SCOPE": "must not be used"}
			r := runQrid(t, env, tt.stdin, tt.args...)
			if r.code != 0 {
				t.Fatalf("exit code %d, stderr:\n%s", r.code, r.stderr)
			}
			req := api.only(t)
			if req.method != tt.wantMethod || req.path != tt.wantPath {
				t.Errorf("request %s %s, want %s %s", req.method, req.path, tt.wantMethod, tt.wantPath)
			}
			if req.auth != "Bearer tok-123" {
				t.Errorf("Authorization = %q, want the token from QRID_ADMIN_TOKEN", req.auth)
			}
			if tt.wantBody == "" {
				if req.body != "" {
					t.Errorf("body = %q, want none", req.body)
				}
			} else {
				if req.contentType != "application/json" {
					t.Errorf("Content-Type = %q, want application/json", req.contentType)
				}
				if !jsonEqual(t, req.body, tt.wantBody) {
					t.Errorf("body = %s\nwant %s", req.body, tt.wantBody)
				}
			}
			var want string
			if tt.answer != "" {
				var b bytes.Buffer
				if err := json.Indent(&b, []byte(tt.answer), "", "  "); err != nil {
					t.Fatal(err)
				}
				want = b.String() + "\n"
			}
			if r.stdout != want {
				t.Errorf("stdout = %q, want the answer pretty-printed: %q", r.stdout, want)
			}
			if r.stderr != "" {
				t.Errorf("stderr = %q, want nothing", r.stderr)
			}
		})
	}
}

func TestAdminFlagsWinOverEnvironment(t *testing.T) {
	t.Parallel()
	api := newFakeAdmin(t, 200, `{"keys":[]}`)
	env := map[string]string{"QRID_ENDPOINT": "http://127.0.0.1:1", "QRID_ADMIN_TOKEN": "from-env"}
	r := runQrid(t, env, "", "keys", "list", "--endpoint", api.URL+"/", "--admin-token", "from-flag")
	if r.code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", r.code, r.stderr)
	}
	if req := api.only(t); req.auth != "Bearer from-flag" || req.path != "/admin/v1/keys" {
		t.Errorf("request %+v, want the flag's token and endpoint", req)
	}
}

func TestClientsCreateFromMetadataFile(t *testing.T) {
	t.Parallel()
	api := newFakeAdmin(t, 201, `{"client_id":"x"}`)
	file := filepath.Join(t.TempDir(), "client.json")
	const md = `{"client_name":"From file","redirect_uris":["https://f.example/cb"]}`
	if err := os.WriteFile(file, []byte(md), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runQrid(t, map[string]string{"QRID_ADMIN_TOKEN": "t"}, "", "clients", "create", "--endpoint", api.URL, "--metadata", file)
	if r.code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", r.code, r.stderr)
	}
	if got := api.only(t).body; got != md {
		t.Errorf("body = %s, want the file as is", got)
	}
}

func TestAdminCommandErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		stdin     string
		status    int
		answer    string
		wantErr   string // the whole of stderr's first line
		noRequest bool
	}{
		{
			name: "fail/api error", args: []string{"clients", "get", "nope"},
			status: 404, answer: `{"error":"not_found","message":"Client \"nope\" does not exist."}`,
			wantErr: `qrid: Client "nope" does not exist. (not_found, HTTP 404)`,
		},
		{
			name: "fail/bad token", args: []string{"keys", "list"},
			status: 401, answer: `{"error":"unauthorized","message":"The admin token is missing or wrong."}`,
			wantErr: `qrid: The admin token is missing or wrong. (unauthorized, HTTP 401)`,
		},
		{
			name: "fail/not json", args: []string{"users", "list"},
			status: 502, answer: `<html>bad gateway</html>`,
			wantErr: `qrid: unexpected answer from ENDPOINT: HTTP 502: <html>bad gateway</html>`,
		},
		{
			name: "fail/invalid metadata", args: []string{"clients", "create", "--metadata", "-"},
			stdin: `["not","an","object"]`, noRequest: true,
			wantErr: `qrid: --metadata - is not a JSON object: json: cannot unmarshal array into Go value of type map[string]json.RawMessage`,
		},
		{
			name: "fail/metadata with flags", args: []string{"clients", "create", "--metadata", "-", "--name", "x", "--first-party"},
			noRequest: true,
			wantErr:   `qrid: --metadata cannot be combined with --first-party, --name`,
		},
		{
			name: "fail/no token", args: []string{"clients", "list"}, env: map[string]string{},
			noRequest: true,
			wantErr:   `qrid: no admin token: set QRID_ADMIN_TOKEN (or --admin-token)`,
		},
		{
			name: "fail/missing id", args: []string{"users", "get"}, noRequest: true,
			wantErr: `qrid: missing USER_ID`,
		},
		{
			name: "fail/empty id", args: []string{"clients", "delete", ""}, noRequest: true,
			wantErr: `qrid: CLIENT_ID must not be empty`,
		},
		{
			name: "fail/users create without username", args: []string{"users", "create"}, stdin: "password\n",
			noRequest: true,
			wantErr:   `qrid: --username is required`,
		},
		{
			name: "fail/users create without password", args: []string{"users", "create", "--username", "a"},
			noRequest: true,
			wantErr:   `qrid: no password: write it as the first line of standard input`,
		},
		{
			name: "fail/users create with a blank first line", args: []string{"users", "create", "--username", "a"},
			stdin: "\nsecond line\n", noRequest: true,
			wantErr: `qrid: no password: write it as the first line of standard input`,
		},
		{
			name: "fail/password is not a flag", args: []string{"users", "create", "--username", "a", "--password", "x"},
			noRequest: true,
			wantErr:   `qrid: unknown flag: --password`,
		},
		{
			name: "fail/group without subcommand", args: []string{"keys"}, noRequest: true,
			wantErr: `qrid: qrid keys needs a subcommand: list, rotate`,
		},
		{
			name: "fail/bad endpoint", args: []string{"keys", "list", "--endpoint", "127.0.0.1:8081"}, noRequest: true,
			wantErr: `qrid: --endpoint "127.0.0.1:8081" must be an http(s) URL such as http://127.0.0.1:8081`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newFakeAdmin(t, tt.status, tt.answer)
			env := tt.env
			if env == nil {
				env = map[string]string{"QRID_ADMIN_TOKEN": "t"}
			}
			env["QRID_ENDPOINT"] = api.URL
			r := runQrid(t, env, tt.stdin, tt.args...)
			if r.code != 1 {
				t.Fatalf("exit code %d, want 1; stderr:\n%s", r.code, r.stderr)
			}
			first, _, _ := strings.Cut(r.stderr, "\n")
			if want := strings.ReplaceAll(tt.wantErr, "ENDPOINT", api.URL); first != want {
				t.Errorf("stderr = %q\nwant     %q", first, want)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			if tt.noRequest && api.count() != 0 {
				t.Errorf("the admin API got %d requests, want none", api.count())
			}
		})
	}
}

func TestConnectionRefusedHint(t *testing.T) {
	t.Parallel()
	// A port that was free a moment ago: nothing listens there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + ln.Addr().String()
	ln.Close()
	r := runQrid(t, map[string]string{"QRID_ADMIN_TOKEN": "t", "QRID_ENDPOINT": endpoint}, "", "clients", "list")
	if r.code != 1 {
		t.Fatalf("exit code %d, want 1", r.code)
	}
	for _, want := range []string{"cannot connect to the admin API at " + endpoint, "connection refused", "--endpoint", "QRID_ENDPOINT"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, r.stderr)
		}
	}
}

func TestMigrateNeedsDatabaseURL(t *testing.T) {
	t.Parallel()
	for _, sub := range []string{"up", "status"} {
		r := runQrid(t, nil, "", "migrate", sub)
		if r.code != 1 || !strings.HasPrefix(r.stderr, "qrid: --database-url (or QRID_DATABASE_URL) is required") {
			t.Errorf("migrate %s: exit %d, stderr:\n%s", sub, r.code, r.stderr)
		}
	}
}

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	status := http.StatusOK
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	if r := runQrid(t, nil, "", "healthcheck", "--url", srv.URL+"/healthz"); r.code != 0 {
		t.Fatalf("healthy: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	mu.Lock()
	status = http.StatusServiceUnavailable
	mu.Unlock()
	r := runQrid(t, nil, "", "healthcheck", "--url", srv.URL+"/healthz")
	if r.code != 1 || !strings.Contains(r.stderr, "answered HTTP 503") {
		t.Fatalf("unhealthy: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}
