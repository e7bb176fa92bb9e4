package mobile

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"golang.org/x/crypto/argon2"

	"github.com/qrid/qrid/grants/qr"
	"github.com/qrid/qrid/provider/digest"
	"github.com/qrid/qrid/provider/jsonapi/apitest"
	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
)

const testIssuer = "https://id.example.test"

var testStart = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// clock is the injected clock shared by the handler and the QR service.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Test accounts. Their hashes are argon2id with small parameters so the tests stay
// fast; password.Verify reads the parameters from the hash. TestLoginRealHash uses
// password.Hash itself.
const (
	alicePassword = "correct horse battery staple"
	bobPassword   = "hunter2 hunter2"
)

type env struct {
	t      *testing.T
	srv    *httptest.Server
	store  *memory.Store
	qr     *qr.Service
	clock  *clock
	router *mux.Router
	logs   *apitest.LogBuffer
	alice  storage.User
	bob    storage.User
	// tv asks with number matching; firstParty without.
	tv, firstParty storage.Client
}

// newEnv starts a server with the mobile API mounted on a fresh router, a memory
// store holding alice, bob and two clients, and a QR service on the same clock.
func newEnv(t *testing.T, configure ...func(*Handler)) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, store: memory.New(), clock: &clock{now: testStart}, logs: &apitest.LogBuffer{}}
	secret := []byte("0123456789abcdef0123456789abcdef-test-secret")
	keyed := func(purpose string) *digest.Keyed {
		k, err := digest.New(secret, purpose)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	svc, err := qr.NewService(e.store, qr.NewHub(), qr.Config{
		Issuer:        testIssuer,
		DeviceCodes:   keyed("device code").String,
		UserCodes:     keyed("user code").String,
		ConfirmTokens: keyed("confirm token").String,
		Now:           e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.qr = svc

	e.alice = storage.User{ID: "acct-alice", Username: "alice", PasswordHash: cheapHash(t, alicePassword), Name: "Alice", CreatedAt: testStart}
	e.bob = storage.User{ID: "acct-bob", Username: "bob", PasswordHash: cheapHash(t, bobPassword), Name: "Bob", CreatedAt: testStart}
	for _, u := range []storage.User{e.alice, e.bob} {
		if err := e.store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	e.tv = storage.Client{ID: "tv-app", Name: "Living Room TV", LogoURI: "https://tv.example.test/logo.png",
		ClientURI: "https://tv.example.test", GrantTypes: []string{"urn:ietf:params:oauth:grant-type:device_code"},
		TokenEndpointAuthMethod: "none", CreatedAt: testStart}
	e.firstParty = storage.Client{ID: "qrid-desktop", Name: "qrid Desktop", FirstParty: true,
		GrantTypes: []string{"urn:ietf:params:oauth:grant-type:device_code"}, TokenEndpointAuthMethod: "none", CreatedAt: testStart}
	for _, c := range []storage.Client{e.tv, e.firstParty} {
		if err := e.store.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}

	h := &Handler{
		Store:        e.store,
		QR:           svc,
		DeviceTokens: keyed("device token"),
		Now:          e.clock.Now,
		Logger:       slog.New(slog.NewJSONHandler(e.logs, nil)),
	}
	for _, f := range configure {
		f(h)
	}
	e.router = mux.NewRouter()
	h.Mount(e.router)
	e.srv = httptest.NewServer(e.router)
	t.Cleanup(e.srv.Close)
	return e
}

// cheapHash is an argon2id PHC string with small parameters.
func cheapHash(t *testing.T, pw string) string {
	t.Helper()
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, 1, 64, 1, 32)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=64,t=1,p=1$%s$%s", argon2.Version, enc.EncodeToString(salt), enc.EncodeToString(key))
}

// request is one HTTP call. body is JSON-encoded unless it is a string (sent as is).
type request struct {
	method string
	path   string // under PathPrefix
	body   any
	// contentType defaults to application/json when there is a body.
	contentType *string
	// auth signs the call as the device.
	auth *session
	// header adds (or, with an empty value, removes) headers after auth.
	header http.Header
	// from is the client's local address, e.g. "127.0.0.2" (default 127.0.0.1).
	from string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %s", r.status, err, r.body)
	}
}

// errorCode returns the "error" of a JSON error answer, checking its shape.
func (r response) errorCode(t *testing.T) string {
	t.Helper()
	var body map[string]any
	r.json(t, &body)
	code, _ := body["error"].(string)
	msg, _ := body["message"].(string)
	if code == "" || msg == "" || len(body) != 2 {
		t.Errorf("error answer %s does not have exactly error and message", r.body)
	}
	return code
}

func (e *env) client(from string) *http.Client {
	if from == "" {
		return e.srv.Client()
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

func (e *env) send(req request) response {
	e.t.Helper()
	var body io.Reader
	if req.body != nil {
		switch b := req.body.(type) {
		case string:
			body = strings.NewReader(b)
		default:
			data, err := json.Marshal(b)
			if err != nil {
				e.t.Fatal(err)
			}
			body = bytes.NewReader(data)
		}
	}
	hr, err := http.NewRequest(req.method, e.srv.URL+PathPrefix+req.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	switch {
	case req.contentType != nil:
		if *req.contentType != "" {
			hr.Header.Set("Content-Type", *req.contentType)
		}
	case req.body != nil:
		hr.Header.Set("Content-Type", "application/json")
	}
	if req.auth != nil {
		hr.Header.Set("Authorization", "Bearer "+req.auth.Token)
		hr.Header.Set("X-Device-Id", req.auth.DeviceID)
	}
	for k, vs := range req.header {
		hr.Header.Del(k)
		for _, v := range vs {
			if v != "" {
				hr.Header.Add(k, v)
			}
		}
	}
	res, err := e.client(req.from).Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		e.t.Errorf("%s %s: Cache-Control %q, want no-store", req.method, req.path, cc)
	}
	return response{status: res.StatusCode, header: res.Header, body: data}
}

// session is a signed-in device as the app knows it.
type session struct {
	LoginResponse
}

func loginBody(username, pw, deviceID string) LoginRequest {
	return LoginRequest{Username: username, Password: pw, DeviceID: deviceID, DeviceType: "ios", DeviceName: "Phone " + deviceID}
}

// login signs in and fails the test unless it works.
func (e *env) login(username, pw, deviceID string) *session {
	e.t.Helper()
	r := e.send(request{method: http.MethodPost, path: "/login", body: loginBody(username, pw, deviceID)})
	wantStatus(e.t, r, http.StatusOK)
	var s session
	r.json(e.t, &s.LoginResponse)
	return &s
}

// authorize creates a QR session as a PC would.
func (e *env) authorize(client storage.Client) qr.Authorization {
	e.t.Helper()
	a, err := e.qr.Authorize(context.Background(), qr.AuthorizeRequest{
		ClientID: client.ID, Scopes: []string{"openid", "profile"}, Matching: !client.FirstParty,
		RequesterIP: "203.0.113.7", RequesterUserAgent: "TestTV/1.0",
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) qrSession(id string) storage.QRSession {
	e.t.Helper()
	s, err := e.store.GetQRSession(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// scan scans a's QR code from the device and fails the test unless it works.
func (e *env) scan(dev *session, a qr.Authorization) ScanResponse {
	e.t.Helper()
	r := e.send(request{method: http.MethodPost, path: "/qr/scan", auth: dev, body: ScanRequest{QR: a.VerificationURIComplete}})
	wantStatus(e.t, r, http.StatusOK)
	var out ScanResponse
	r.json(e.t, &out)
	return out
}

func (e *env) confirm(dev *session, token string, approve bool, match string) response {
	e.t.Helper()
	return e.send(request{method: http.MethodPost, path: "/qr/confirm", auth: dev,
		body: map[string]any{"confirm_token": token, "approve": approve, "match": match}})
}

func wantStatus(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
}

// wantError checks a JSON error answer's status and code.
func wantError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if got := r.errorCode(t); got != code {
		t.Fatalf("error %q, want %q: %s", got, code, r.body)
	}
}

func ptr[T any](v T) *T { return &v }
