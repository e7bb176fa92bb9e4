package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// fakeIdP is an OpenID provider with the device authorization and token endpoints
// of qrid's QR grant. The token endpoint gives its scripted answers in order (the
// last one again once they run out).
type fakeIdP struct {
	*httptest.Server
	key       *ecdsa.PrivateKey // signs ID tokens
	jwksKey   *ecdsa.PrivateKey // published in the JWKS
	noDevice  bool              // discovery without device_authorization_endpoint
	interval  int
	matchCode any
	answers   []fakeAnswer

	mu        sync.Mutex
	authReqs  []formRequest
	tokenReqs []formRequest
	polled    chan struct{} // receives on every token request, when not nil
}

// fakeAnswer is one token endpoint answer: an RFC 6749 error, or tokens when
// errCode is empty. hold keeps the request until the client gives up.
type fakeAnswer struct {
	errCode, qrStatus string
	hold              bool
}

type formRequest struct {
	method, contentType string
	form                url.Values
	user, pass          string
	basic               bool
}

func pending(status string) fakeAnswer {
	return fakeAnswer{errCode: "authorization_pending", qrStatus: status}
}
func tokens() fakeAnswer { return fakeAnswer{} }

const (
	fakeClientID    = "tv-app"
	fakeAccessToken = "access-token-123"
	fakeDeviceCode  = "dc-secret-456"
)

func newFakeIdP(t *testing.T, answers ...fakeAnswer) *fakeIdP {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIdP{key: key, jwksKey: key, interval: 2, matchCode: "42", answers: answers}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		doc := map[string]any{
			"issuer":                                f.URL,
			"authorization_endpoint":                f.URL + "/oauth2/auth",
			"token_endpoint":                        f.URL + "/oauth2/token",
			"jwks_uri":                              f.URL + "/.well-known/jwks.json",
			"id_token_signing_alg_values_supported": []string{"ES256"},
		}
		if !f.noDevice {
			doc["device_authorization_endpoint"] = f.URL + "/oauth2/device/auth"
		}
		writeJSON(w, 200, doc)
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &f.jwksKey.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"},
		}})
	})
	mux.HandleFunc("POST /oauth2/device/auth", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.authReqs = append(f.authReqs, readForm(r))
		f.mu.Unlock()
		ans := map[string]any{
			"device_code":               fakeDeviceCode,
			"user_code":                 "BDWP-HQPK",
			"verification_uri":          f.URL + "/device",
			"verification_uri_complete": f.URL + "/q/qr-id-789",
			"qr_image_uri":              f.URL + "/qr/qr-id-789.png",
			"expires_in":                300,
			"interval":                  f.interval,
		}
		if f.matchCode != nil {
			ans["match_code"] = f.matchCode
		}
		writeJSON(w, 200, ans)
	})
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.tokenReqs = append(f.tokenReqs, readForm(r))
		n := len(f.tokenReqs)
		polled := f.polled
		f.mu.Unlock()
		if polled != nil {
			polled <- struct{}{}
		}
		ans := f.answers[min(n, len(f.answers))-1]
		switch {
		case ans.hold:
			<-r.Context().Done()
		case ans.errCode != "":
			body := map[string]string{"error": ans.errCode, "error_description": "described " + ans.errCode}
			if ans.qrStatus != "" {
				body["qr_status"] = ans.qrStatus
			}
			writeJSON(w, 400, body)
		default:
			writeJSON(w, 200, map[string]any{
				"access_token":  fakeAccessToken,
				"token_type":    "bearer",
				"expires_in":    3600,
				"refresh_token": "refresh-token-789",
				"scope":         "openid profile email",
				"id_token":      f.idToken(t),
			})
		}
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeIdP) idToken(t *testing.T) string {
	sum := sha256.Sum256([]byte(fakeAccessToken))
	claims := map[string]any{
		"iss": f.URL, "sub": "account-1", "aud": fakeClientID,
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
		"email": "alice@example.com", "name": "Alice Example",
		"at_hash": base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]),
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: f.key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Error(err)
		return ""
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Error(err)
		return ""
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Error(err)
	}
	return raw
}

func (f *fakeIdP) tokenRequests() []formRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]formRequest(nil), f.tokenReqs...)
}

func (f *fakeIdP) authRequests() []formRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]formRequest(nil), f.authReqs...)
}

func readForm(r *http.Request) formRequest {
	_ = r.ParseForm()
	user, pass, ok := r.BasicAuth()
	// RFC 6749 §2.3.1: the client ID and secret are form-encoded inside Basic.
	user, _ = url.QueryUnescape(user)
	pass, _ = url.QueryUnescape(pass)
	return formRequest{method: r.Method, contentType: r.Header.Get("Content-Type"), form: r.PostForm, user: user, pass: pass, basic: ok}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// sleepRecorder stands in for waiting: it records how long qrid login would wait.
type sleepRecorder struct {
	mu     sync.Mutex
	sleeps []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sleeps = append(s.sleeps, d)
	return ctx.Err()
}

func (s *sleepRecorder) recorded() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.sleeps...)
}

// runLogin runs `qrid login args...` with deps instead of real waiting, through the
// same command tree as qrid itself.
func runLogin(ctx context.Context, env map[string]string, deps loginDeps, args ...string) result {
	var stdout, stderr bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, lookupEnv: mapEnv(env)}
	root := a.newRootCmd()
	if old, _, err := root.Find([]string{"login"}); err == nil {
		root.RemoveCommand(old)
	}
	root.AddCommand(a.loginCommand(deps))
	root.SetArgs(append([]string{"login"}, args...))
	code := 0
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(&stderr, "qrid: %v\n", err)
		code = 1
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// fixedClock is a loginDeps whose clock stands still, so the waits it records are
// exactly what the poller asks for.
func fixedClock(rec *sleepRecorder) loginDeps {
	now := time.Now()
	return loginDeps{sleep: rec.sleep, now: func() time.Time { return now }}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestLoginLongPoll(t *testing.T) {
	t.Parallel()
	idp := newFakeIdP(t, pending("pending"), fakeAnswer{errCode: "slow_down"}, pending("scanned"), tokens())
	rec := &sleepRecorder{}
	env := map[string]string{"QRID_CLIENT_SECRET": "s3cret/+="}
	r := runLogin(testContext(t), env, fixedClock(rec), "--issuer", idp.URL, "--client-id", fakeClientID)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}

	// The claims of the verified ID token, and nothing else, on stdout.
	var claims map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &claims); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, r.stdout)
	}
	if claims["sub"] != "account-1" || claims["email"] != "alice@example.com" || claims["iss"] != idp.URL {
		t.Errorf("claims = %v", claims)
	}
	if strings.Contains(r.stdout, fakeAccessToken) {
		t.Errorf("tokens printed without --print-tokens:\n%s", r.stdout)
	}
	for _, want := range []string{
		"Scan this QR code", "▀", "Or open " + idp.URL + "/device and enter the code BDWP-HQPK",
		"Check that your phone shows 42", "Scanned — confirm on your phone", "Signed in.",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, r.stderr)
		}
	}

	auth := idp.authRequests()
	if len(auth) != 1 {
		t.Fatalf("%d device authorization requests, want 1", len(auth))
	}
	if a := auth[0]; a.form.Get("client_id") != fakeClientID || a.form.Get("scope") != "openid profile email" ||
		!a.basic || a.user != fakeClientID || a.pass != "s3cret/+=" || a.contentType != "application/x-www-form-urlencoded" {
		t.Errorf("device authorization request = %+v", a)
	}
	polls := idp.tokenRequests()
	if len(polls) != 4 {
		t.Fatalf("%d token requests, want 4", len(polls))
	}
	for i, p := range polls {
		if p.form.Get("grant_type") != grantTypeDeviceCode || p.form.Get("device_code") != fakeDeviceCode ||
			p.form.Get("wait") != "25" || !p.basic || p.user != fakeClientID || p.pass != "s3cret/+=" {
			t.Errorf("poll %d = %+v", i, p)
		}
	}
	// The interval is 2 s; slow_down makes it 7 s; news (scanned) is followed at once.
	want := []time.Duration{2 * time.Second, 7 * time.Second}
	if got := rec.recorded(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("waits between polls = %v, want %v", got, want)
	}
}

func TestLoginPublicClientPrintTokens(t *testing.T) {
	t.Parallel()
	idp := newFakeIdP(t, tokens())
	idp.matchCode = 7 // a number in JSON
	rec := &sleepRecorder{}
	r := runLogin(testContext(t), nil, fixedClock(rec), "--issuer", idp.URL, "--client-id", fakeClientID,
		"--scope", "openid offline_access", "--print-tokens")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	var out struct {
		Claims       map[string]any `json:"claims"`
		AccessToken  string         `json:"access_token"`
		RefreshToken string         `json:"refresh_token"`
		IDToken      string         `json:"id_token"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	if out.Claims["sub"] != "account-1" || out.AccessToken != fakeAccessToken || out.RefreshToken == "" || out.IDToken == "" {
		t.Errorf("output = %+v", out)
	}
	if !strings.Contains(r.stderr, "Check that your phone shows 07") {
		t.Errorf("stderr lacks the match code:\n%s", r.stderr)
	}
	a := idp.authRequests()[0]
	if a.basic || a.form.Get("client_id") != fakeClientID || a.form.Get("scope") != "openid offline_access" {
		t.Errorf("a public client's device authorization request = %+v", a)
	}
	if p := idp.tokenRequests()[0]; p.basic || p.form.Get("client_id") != fakeClientID {
		t.Errorf("a public client's poll = %+v", p)
	}
	if len(rec.recorded()) != 0 {
		t.Errorf("waited %v before an answer that needed no wait", rec.recorded())
	}
}

func TestLoginEndings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		answers []fakeAnswer
		change  func(*fakeIdP)
		args    []string
		wantErr string // stderr's first line
	}{
		{"fail/denied", []fakeAnswer{pending("scanned"), {errCode: "access_denied", qrStatus: "denied"}}, nil, nil,
			"qrid: the sign-in was refused on the phone"},
		{"fail/contested", []fakeAnswer{{errCode: "access_denied", qrStatus: "contested"}}, nil, nil,
			"qrid: Another device scanned this code; it was closed for your safety. Run qrid login again to get a new code"},
		{"fail/wrong match", []fakeAnswer{{errCode: "access_denied", qrStatus: "wrong_match"}}, nil, nil,
			"qrid: the wrong number was picked on the phone, so the sign-in was refused; run qrid login again"},
		{"fail/denied without status", []fakeAnswer{{errCode: "access_denied"}}, nil, nil,
			"qrid: the sign-in was refused: described access_denied"},
		{"fail/expired", []fakeAnswer{pending("pending"), {errCode: "expired_token"}}, nil, nil,
			"qrid: the QR code expired before the sign-in was confirmed; run qrid login again"},
		{"fail/invalid grant", []fakeAnswer{{errCode: "invalid_grant"}}, nil, nil,
			"qrid: the token endpoint refused the sign-in: described invalid_grant (invalid_grant)"},
		{"fail/id token signed by another key", []fakeAnswer{tokens()}, func(f *fakeIdP) {
			other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			f.key = other
		}, nil, "qrid: the ID token does not verify: "},
		{"fail/no device endpoint", nil, func(f *fakeIdP) { f.noDevice = true }, nil,
			"qrid: the issuer ISSUER announces no device_authorization_endpoint: it offers no QR sign-in for terminals"},
		{"fail/missing flags", nil, nil, []string{},
			"qrid: --issuer is required; --client-id is required"},
		{"fail/bad issuer", nil, nil, []string{"--issuer", "id.example.com", "--client-id", "x"},
			`qrid: --issuer "id.example.com" must be an http(s) URL such as https://id.example.com`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			idp := newFakeIdP(t, tt.answers...)
			if tt.change != nil {
				tt.change(idp)
			}
			args := tt.args
			if args == nil {
				args = []string{"--issuer", idp.URL, "--client-id", fakeClientID}
			}
			r := runLogin(testContext(t), nil, fixedClock(&sleepRecorder{}), args...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
			}
			want := strings.ReplaceAll(tt.wantErr, "ISSUER", idp.URL)
			var last string
			for line := range strings.Lines(r.stderr) {
				if strings.HasPrefix(line, "qrid: ") {
					last = strings.TrimSuffix(line, "\n")
				}
			}
			if !strings.HasPrefix(last, want) {
				t.Errorf("error = %q\nwant    %q", last, want)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
		})
	}
}

func TestLoginCancel(t *testing.T) {
	t.Parallel()
	idp := newFakeIdP(t, fakeAnswer{hold: true})
	idp.polled = make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(testContext(t))
	go func() {
		<-idp.polled // the long-poll is being held: the person presses Ctrl-C
		cancel()
	}()
	r := runLogin(ctx, nil, realLoginDeps, "--issuer", idp.URL, "--client-id", fakeClientID)
	if r.code != 1 || !strings.HasSuffix(r.stderr, "qrid: sign-in cancelled\n") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// TestLoginNoWait runs the plain RFC 8628 polling of x/oauth2 through qrid itself;
// x/oauth2 waits the announced interval (1 s) before each poll.
func TestLoginNoWait(t *testing.T) {
	t.Parallel()
	idp := newFakeIdP(t, pending("pending"), tokens())
	idp.interval = 1
	r := runQrid(t, map[string]string{"QRID_CLIENT_SECRET": "s3cret"}, "",
		"login", "--issuer", idp.URL, "--client-id", fakeClientID, "--no-wait")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	var claims map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &claims); err != nil || claims["sub"] != "account-1" {
		t.Fatalf("stdout = %s (%v)", r.stdout, err)
	}
	polls := idp.tokenRequests()
	if len(polls) != 2 {
		t.Fatalf("%d polls, want 2", len(polls))
	}
	for i, p := range polls {
		if p.form.Has("wait") || p.form.Get("grant_type") != grantTypeDeviceCode ||
			p.form.Get("device_code") != fakeDeviceCode || !p.basic || p.pass != "s3cret" {
			t.Errorf("poll %d = %+v", i, p)
		}
	}
}

func TestLoginNoWaitContested(t *testing.T) {
	t.Parallel()
	idp := newFakeIdP(t, fakeAnswer{errCode: "access_denied", qrStatus: "contested"})
	idp.interval = 1
	r := runQrid(t, nil, "", "login", "--issuer", idp.URL, "--client-id", fakeClientID, "--no-wait")
	if r.code != 1 || !strings.Contains(r.stderr, "qrid: Another device scanned this code; it was closed for your safety.") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestTerminalQRDecodesBack(t *testing.T) {
	t.Parallel()
	const content = "https://id.example.com/q/3bXk9Qm2"
	art, err := terminalQR(content)
	if err != nil {
		t.Fatal(err)
	}
	// Paint the half blocks as a camera would see them on a dark terminal: a drawn
	// half is light, an empty one dark.
	const scale = 4
	lines := strings.Split(strings.TrimSuffix(art, "\n"), "\n")
	width := len([]rune(lines[0]))
	img := image.NewGray(image.Rect(0, 0, width*scale, 2*len(lines)*scale))
	for row, line := range lines {
		for x, r := range []rune(line) {
			top, bottom := r == '█' || r == '▀', r == '█' || r == '▄'
			for i, light := range []bool{top, bottom} {
				if !light {
					continue
				}
				y := (2*row + i) * scale
				draw.Draw(img, image.Rect(x*scale, y, (x+1)*scale, y+scale), image.White, image.Point{}, draw.Src)
			}
		}
	}
	file := filepath.Join(t.TempDir(), "terminal.png")
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := decodeQRFile(file)
	if err != nil || got != content {
		t.Fatalf("decoded %q, %v; want %q", got, err, content)
	}
}
