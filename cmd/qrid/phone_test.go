package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/skip2/go-qrcode"
)

// fakeMobile is a mobile API that records what it gets and answers each path
// ("POST /api/mobile/v1/qr/scan") with a canned status and body.
type fakeMobile struct {
	*httptest.Server
	mu       sync.Mutex
	answers  map[string]cannedAnswer
	requests []mobileRequest
}

type cannedAnswer struct {
	status int
	body   string
}

type mobileRequest struct {
	method, path, auth, deviceID, contentType, body string
	// dpop is the DPoP proof sent, if any.
	dpop string
}

func newFakeMobile(t *testing.T, answers map[string]cannedAnswer) *fakeMobile {
	t.Helper()
	f := &fakeMobile{answers: answers}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.requests = append(f.requests, mobileRequest{r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"),
			r.Header.Get("X-Device-Id"), r.Header.Get("Content-Type"), string(b), r.Header.Get("DPoP")})
		ans, ok := f.answers[r.Method+" "+r.URL.EscapedPath()]
		f.mu.Unlock()
		if !ok {
			ans = cannedAnswer{404, `{"error":"not_found","message":"No such call."}`}
		}
		// DEVICE in an answer stands for the device_id sent, as a server echoes it.
		var sent struct {
			DeviceID string `json:"device_id"`
		}
		if json.Unmarshal(b, &sent) == nil && sent.DeviceID != "" {
			ans.body = strings.ReplaceAll(ans.body, "DEVICE", sent.DeviceID)
		}
		if ans.body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(ans.status)
		_, _ = io.WriteString(w, ans.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeMobile) all() []mobileRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mobileRequest(nil), f.requests...)
}

func (f *fakeMobile) only(t *testing.T) mobileRequest {
	t.Helper()
	reqs := f.all()
	if len(reqs) != 1 {
		t.Fatalf("the mobile API got %d requests, want 1: %+v", len(reqs), reqs)
	}
	return reqs[0]
}

const (
	loginAnswer    = `{"token":"device-token-1","account_id":"acc-1","device_id":"DEVICE","id":"dev-1"}`
	scanAnswerJSON = `{"confirm_token":"ct-1","expires_in":60,
		"client":{"client_id":"tv-app","name":"Living room TV","logo_uri":"https://tv.example.com/logo.png","client_uri":"https://tv.example.com/home","first_party":false},
		"scopes":["openid","profile","email"],
		"requester":{"ip":"203.0.113.7","user_agent":"qrid-tv/2.1","created_at":"2025-01-02T03:04:05Z"},
		"match_choices":[17,42,86]}`
)

// signedInState writes the state of a signed-in phone for f and returns its path.
func signedInState(t *testing.T, f *fakeMobile, pending *pendingConfirm) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "phone.json")
	st := &phoneState{Issuer: f.URL, DeviceID: "dev-id-abc", Token: "device-token-1", AccountID: "acc-1", ID: "dev-1", Pending: pending}
	if err := st.save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func readState(t *testing.T, path string) *phoneState {
	t.Helper()
	st, err := loadPhoneState(path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// checkAuthenticated checks that r carries the device token and device ID.
func checkAuthenticated(t *testing.T, r mobileRequest) {
	t.Helper()
	if r.auth != "Bearer device-token-1" || r.deviceID != "dev-id-abc" {
		t.Errorf("%s %s: Authorization %q, X-Device-Id %q", r.method, r.path, r.auth, r.deviceID)
	}
}

func TestPhoneLogin(t *testing.T) {
	t.Parallel()
	f := newFakeMobile(t, map[string]cannedAnswer{"POST /api/mobile/v1/login": {200, loginAnswer}})
	const password = "correct horse battery"
	path := filepath.Join(t.TempDir(), "sub", "phone.json")
	var deviceIDs []string
	for range 2 {
		r := runQrid(t, nil, password+"\n", "phone", "login", "--state", path, "--issuer", f.URL+"/",
			"--username", "alice", "--device-name", "Alice's terminal")
		if r.code != 0 {
			t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, password) {
			t.Errorf("the password was printed:\n%s%s", r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "Signed in to "+f.URL+" as alice (account acc-1)") {
			t.Errorf("stdout = %q", r.stdout)
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("state file mode %v, want 0600", info.Mode().Perm())
		}
		raw, _ := os.ReadFile(path)
		if strings.Contains(string(raw), password) {
			t.Errorf("the password is in the state file:\n%s", raw)
		}
		st := readState(t, path)
		if st.Issuer != f.URL || st.Token != "device-token-1" || st.AccountID != "acc-1" || st.ID != "dev-1" {
			t.Errorf("state = %+v", st)
		}
		deviceIDs = append(deviceIDs, st.DeviceID)
	}
	if deviceIDs[0] != deviceIDs[1] || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(deviceIDs[0]) {
		t.Errorf("device IDs %q: want one made-up ID kept across sign-ins", deviceIDs)
	}
	for _, r := range f.all() {
		if r.method != "POST" || r.path != "/api/mobile/v1/login" || r.auth != "" || r.contentType != "application/json" {
			t.Errorf("login request = %+v", r)
		}
		want := `{"username":"alice","password":"correct horse battery","device_id":"` + deviceIDs[0] +
			`","device_type":"cli","device_name":"Alice's terminal"}`
		if !jsonEqual(t, r.body, want) {
			t.Errorf("login body = %s\nwant %s", r.body, want)
		}
	}
}

func TestPhoneLoginDefaultStatePath(t *testing.T) {
	t.Parallel()
	f := newFakeMobile(t, map[string]cannedAnswer{"POST /api/mobile/v1/login": {200, `{"token":"t","account_id":"a","id":"d"}`}})
	config := t.TempDir()
	r := runQrid(t, map[string]string{"XDG_CONFIG_HOME": config}, "pw\n", "phone", "login", "--issuer", f.URL, "--username", "bob")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if st := readState(t, filepath.Join(config, "qrid", "phone.json")); st.Token != "t" {
		t.Errorf("state = %+v", st)
	}
	home := t.TempDir()
	r = runQrid(t, map[string]string{"HOME": home}, "pw\n", "phone", "login", "--issuer", f.URL, "--username", "bob")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if st := readState(t, filepath.Join(home, ".config", "qrid", "phone.json")); st.Token != "t" {
		t.Errorf("state = %+v", st)
	}
}

func TestPhoneScanPNG(t *testing.T) {
	t.Parallel()
	f := newFakeMobile(t, map[string]cannedAnswer{"POST /api/mobile/v1/qr/scan": {200, scanAnswerJSON}})
	path := signedInState(t, f, nil)
	content := f.URL + "/q/3bXk9Qm2pLw7"
	png := filepath.Join(t.TempDir(), "qr.png")
	if err := qrcode.WriteFile(content, qrcode.Medium, 256, png); err != nil {
		t.Fatal(err)
	}
	r := runQrid(t, nil, "", "phone", "scan", "--state", path, png)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	req := f.only(t)
	if req.method != "POST" || req.path != "/api/mobile/v1/qr/scan" || req.contentType != "application/json" {
		t.Errorf("request = %+v", req)
	}
	checkAuthenticated(t, req)
	if !jsonEqual(t, req.body, `{"qr":"`+content+`"}`) {
		t.Errorf("body = %s, want the decoded QR code", req.body)
	}
	for _, want := range []string{
		"Living room TV (tv.example.com) wants to sign you in.", "openid, profile, email",
		"203.0.113.7", "qrid-tv/2.1", "Asked at:", "17   42   86", "qrid phone approve --match NN",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout does not contain %q:\n%s", want, r.stdout)
		}
	}
	st := readState(t, path)
	if st.Pending == nil || st.Pending.ConfirmToken != "ct-1" || len(st.Pending.MatchChoices) != 3 || st.Pending.MatchChoices[1] != "42" {
		t.Errorf("pending = %+v", st.Pending)
	}
}

func TestPhoneScanTextAndUserCode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"https://id.example.com/q/abc"}, `{"qr":"https://id.example.com/q/abc"}`},
		{[]string{"--user-code", " BDWP-HQPK "}, `{"user_code":"BDWP-HQPK"}`},
	} {
		f := newFakeMobile(t, map[string]cannedAnswer{"POST /api/mobile/v1/qr/scan": {200, `{"confirm_token":"ct-2","client":{"name":"CLI"},"scopes":["openid"]}`}})
		path := signedInState(t, f, nil)
		r := runQrid(t, nil, "", append([]string{"phone", "scan", "--state", path}, tt.args...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d, stderr:\n%s", tt.args, r.code, r.stderr)
		}
		if body := f.only(t).body; !jsonEqual(t, body, tt.want) {
			t.Errorf("%v: body %s, want %s", tt.args, body, tt.want)
		}
		if !strings.Contains(r.stdout, "Approve with: qrid phone approve ") || strings.Contains(r.stdout, "--match") {
			t.Errorf("%v: without matching, stdout:\n%s", tt.args, r.stdout)
		}
	}
}

func TestPhoneConfirm(t *testing.T) {
	t.Parallel()
	matching := &pendingConfirm{ConfirmToken: "ct-1", MatchChoices: []matchNumber{"17", "42", "86"}}
	plain := &pendingConfirm{ConfirmToken: "ct-1"}
	tests := []struct {
		name     string
		pending  *pendingConfirm
		args     []string
		answer   cannedAnswer
		wantBody string // "": no request is sent
		wantOut  string
		wantErr  string
		keeps    bool // the pending confirmation stays
	}{
		{name: "ok/approve with match", pending: matching, args: []string{"approve", "--match", "42"},
			answer: cannedAnswer{200, `{"status":"approved"}`}, wantBody: `{"confirm_token":"ct-1","approve":true,"match":"42"}`,
			wantOut: "Approved: the other screen is signing in.\n"},
		{name: "ok/approve without matching", pending: plain, args: []string{"approve"},
			answer: cannedAnswer{200, `{"status":"approved"}`}, wantBody: `{"confirm_token":"ct-1","approve":true}`,
			wantOut: "Approved: the other screen is signing in.\n"},
		{name: "ok/deny", pending: matching, args: []string{"deny"},
			answer: cannedAnswer{200, `{"status":"denied"}`}, wantBody: `{"confirm_token":"ct-1","approve":false}`,
			wantOut: "Denied: the sign-in was refused.\n"},
		{name: "fail/approve needs --match", pending: matching, args: []string{"approve"}, keeps: true,
			wantErr: "qrid: this sign-in uses number matching: give the number the other screen shows with --match (one of 17, 42, 86)"},
		{name: "fail/match not offered", pending: matching, args: []string{"approve", "--match", "99"}, keeps: true,
			wantErr: "qrid: --match 99 is not one of the numbers offered: 17, 42, 86"},
		{name: "fail/nothing scanned", args: []string{"approve"},
			wantErr: "qrid: no scanned sign-in is waiting: run qrid phone scan first"},
		{name: "fail/wrong match", pending: matching, args: []string{"approve", "--match", "17"},
			answer:   cannedAnswer{409, `{"error":"wrong_match","message":"That is not the number shown; the sign-in was refused."}`},
			wantBody: `{"confirm_token":"ct-1","approve":true,"match":"17"}`,
			wantErr:  "qrid: That is not the number shown; the sign-in was refused. (wrong_match, HTTP 409)"},
		{name: "fail/expired", pending: plain, args: []string{"deny"},
			answer:   cannedAnswer{410, `{"error":"expired","message":"The confirmation has expired; scan again."}`},
			wantBody: `{"confirm_token":"ct-1","approve":false}`,
			wantErr:  "qrid: The confirmation has expired; scan again. (expired, HTTP 410)"},
		{name: "fail/already used", pending: plain, args: []string{"approve"},
			answer:   cannedAnswer{409, `{"error":"already_used","message":"This confirmation was already used."}`},
			wantBody: `{"confirm_token":"ct-1","approve":true}`,
			wantErr:  "qrid: This confirmation was already used. (already_used, HTTP 409)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeMobile(t, map[string]cannedAnswer{"POST /api/mobile/v1/qr/confirm": tt.answer})
			path := signedInState(t, f, tt.pending)
			r := runQrid(t, nil, "", append([]string{"phone"}, append(tt.args, "--state", path)...)...)
			if tt.wantErr != "" {
				first, _, _ := strings.Cut(r.stderr, "\n")
				if r.code != 1 || first != tt.wantErr {
					t.Errorf("exit %d, stderr %q\nwant %q", r.code, first, tt.wantErr)
				}
			} else if r.code != 0 || r.stdout != tt.wantOut {
				t.Errorf("exit %d, stdout %q (want %q), stderr:\n%s", r.code, r.stdout, tt.wantOut, r.stderr)
			}
			if tt.wantBody == "" {
				if n := len(f.all()); n != 0 {
					t.Errorf("%d requests sent, want none", n)
				}
			} else {
				req := f.only(t)
				checkAuthenticated(t, req)
				if req.method != "POST" || req.path != "/api/mobile/v1/qr/confirm" || !jsonEqual(t, req.body, tt.wantBody) {
					t.Errorf("request %+v\nwant body %s", req, tt.wantBody)
				}
			}
			if st := readState(t, path); (st.Pending != nil) != tt.keeps {
				t.Errorf("pending = %+v, want kept: %v", st.Pending, tt.keeps)
			}
		})
	}
}

func TestPhoneErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		answers map[string]cannedAnswer
		signed  bool
		stdin   string
		wantErr string
	}{
		{name: "fail/already scanned", signed: true, args: []string{"scan", "https://id.example.com/q/x"},
			answers: map[string]cannedAnswer{"POST /api/mobile/v1/qr/scan": {409, `{"error":"already_scanned","message":"Another device already scanned this code; it was closed for your safety."}`}},
			wantErr: "qrid: Another device already scanned this code; it was closed for your safety. (already_scanned, HTTP 409)"},
		{name: "fail/expired scan", signed: true, args: []string{"scan", "--user-code", "BDWP-HQPK"},
			answers: map[string]cannedAnswer{"POST /api/mobile/v1/qr/scan": {410, `{"error":"expired","message":"This code has expired."}`}},
			wantErr: "qrid: This code has expired. (expired, HTTP 410)"},
		{name: "fail/revoked token", signed: true, args: []string{"devices"},
			answers: map[string]cannedAnswer{"GET /api/mobile/v1/devices": {401, `{"error":"unauthorized","message":"The device token is not valid."}`}},
			wantErr: "qrid: The device token is not valid. (unauthorized, HTTP 401); sign in again with qrid phone login"},
		{name: "fail/bad password", args: []string{"login", "--issuer", "ISSUER", "--username", "a"}, stdin: "nope\n",
			answers: map[string]cannedAnswer{"POST /api/mobile/v1/login": {401, `{"error":"invalid_credentials","message":"Wrong username or password."}`}},
			wantErr: "qrid: Wrong username or password. (invalid_credentials, HTTP 401)"},
		{name: "fail/no password", args: []string{"login", "--issuer", "ISSUER", "--username", "a"},
			wantErr: "qrid: no password: write it as the first line of standard input"},
		{name: "fail/password is not a flag", args: []string{"login", "--issuer", "ISSUER", "--username", "a", "--password", "x"},
			wantErr: "qrid: unknown flag: --password"},
		{name: "fail/login flags", args: []string{"login"},
			wantErr: "qrid: --issuer is required; --username is required"},
		{name: "fail/not signed in", args: []string{"scan", "x"},
			wantErr: "qrid: this phone is not signed in: run qrid phone login --issuer URL --username NAME"},
		{name: "fail/missing png", signed: true, args: []string{"scan", "nowhere/qr.png"},
			wantErr: "qrid: no such file: nowhere/qr.png"},
		{name: "fail/scan without content", signed: true, args: []string{"scan"},
			wantErr: "qrid: missing CONTENT|FILE.png (or --user-code CODE)"},
		{name: "fail/scan with both", signed: true, args: []string{"scan", "x", "--user-code", "y"},
			wantErr: "qrid: give either a QR code or --user-code, not both"},
		{name: "fail/not json", signed: true, args: []string{"devices"},
			answers: map[string]cannedAnswer{"GET /api/mobile/v1/devices": {502, "<html>bad gateway</html>"}},
			wantErr: "qrid: unexpected answer from ISSUER/api/mobile/v1/devices: HTTP 502: <html>bad gateway</html>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeMobile(t, tt.answers)
			path := filepath.Join(t.TempDir(), "phone.json")
			if tt.signed {
				path = signedInState(t, f, nil)
			}
			args := []string{"phone", "--state", path}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "ISSUER", f.URL))
			}
			r := runQrid(t, nil, tt.stdin, args...)
			first, _, _ := strings.Cut(r.stderr, "\n")
			if want := strings.ReplaceAll(tt.wantErr, "ISSUER", f.URL); r.code != 1 || first != want {
				t.Errorf("exit %d, stderr %q\nwant %q", r.code, first, want)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
		})
	}
}

func TestPhoneDevicesAndLogout(t *testing.T) {
	t.Parallel()
	f := newFakeMobile(t, map[string]cannedAnswer{
		"GET /api/mobile/v1/devices": {200, `{"devices":[
			{"id":"dev-1","device_id":"dev-id-abc","device_type":"cli","name":"Terminal","created_at":"2025-01-02T03:04:05Z","last_seen_at":"2025-01-03T03:04:05Z","current":true},
			{"id":"dev-2","device_id":"p-2","device_type":"ios","name":"Alice's iPhone","created_at":"2025-01-01T00:00:00Z","current":false}]}`},
		"DELETE /api/mobile/v1/devices/dev%202": {204, ""},
		"POST /api/mobile/v1/logout":            {204, ""},
	})
	path := signedInState(t, f, nil)

	r := runQrid(t, nil, "", "phone", "devices", "--state", path)
	if r.code != 0 || !strings.Contains(r.stdout, "dev-1 (this device)") || !strings.Contains(r.stdout, "Alice's iPhone") {
		t.Fatalf("devices: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = runQrid(t, nil, "", "phone", "devices", "--state", path, "--revoke", "dev 2")
	if r.code != 0 || r.stdout != "Revoked device dev 2.\n" {
		t.Fatalf("revoke: exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = runQrid(t, nil, "", "phone", "logout", "--state", path)
	if r.code != 0 || r.stdout != "Signed out.\n" {
		t.Fatalf("logout: exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	reqs := f.all()
	want := []string{"GET /api/mobile/v1/devices", "DELETE /api/mobile/v1/devices/dev%202", "POST /api/mobile/v1/logout"}
	if len(reqs) != len(want) {
		t.Fatalf("requests %+v, want %v", reqs, want)
	}
	for i, r := range reqs {
		if r.method+" "+r.path != want[i] || r.body != "" {
			t.Errorf("request %d = %+v, want %s without body", i, r, want[i])
		}
		checkAuthenticated(t, r)
	}
	st := readState(t, path)
	if st.Token != "" || st.DeviceID != "dev-id-abc" || st.Issuer != f.URL {
		t.Errorf("after logout, state = %+v; want the token gone, the device ID and issuer kept", st)
	}
}
