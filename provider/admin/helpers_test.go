package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qrid/qrid/provider/digest"
	"github.com/qrid/qrid/provider/jsonapi/apitest"
	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
)

const testToken = "test-admin-token-0123456789"

var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeKeys is a KeyManager keeping keys in a slice, newest first.
type fakeKeys struct {
	mu      sync.Mutex
	keys    []storage.SigningKey
	rotated []string
	n       int
	err     error
}

func newFakeKeys() *fakeKeys {
	return &fakeKeys{keys: []storage.SigningKey{
		{ID: "rs-1", Algorithm: "RS256", CreatedAt: testNow.Add(-time.Hour)},
		{ID: "es-1", Algorithm: "ES256", CreatedAt: testNow.Add(-2 * time.Hour)},
	}}
}

func (f *fakeKeys) List(context.Context) ([]storage.SigningKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return slices.Clone(f.keys), nil
}

func (f *fakeKeys) Rotate(_ context.Context, alg string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.rotated = append(f.rotated, alg)
	for _, a := range signingAlgs {
		if alg != "" && alg != a {
			continue
		}
		for i := range f.keys {
			if f.keys[i].Algorithm == a && f.keys[i].Active() {
				f.keys[i].RetiredAt = testNow
				f.keys[i].ExpiresAt = testNow.Add(24 * time.Hour)
			}
		}
		f.n++
		next := storage.SigningKey{ID: strings.ToLower(a[:2]) + "-new-" + string(rune('0'+f.n)), Algorithm: a, CreatedAt: testNow}
		f.keys = append([]storage.SigningKey{next}, f.keys...)
	}
	return nil
}

func (f *fakeKeys) rotations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rotated)
}

// env is one admin API served over a real listener.
type env struct {
	t     *testing.T
	srv   *httptest.Server
	svc   *Service
	store storage.Storage
	mem   *memory.Store
	keys  *fakeKeys
	logs  *apitest.LogBuffer
}

type envOption func(*env)

func withDev(e *env) { e.svc.Dev = true }

// withStore replaces the store the service uses (the memory store stays e.mem).
func withStore(wrap func(storage.Storage) storage.Storage) envOption {
	return func(e *env) { e.store = wrap(e.store); e.svc.Store = e.store }
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	secrets, err := digest.New(bytes.Repeat([]byte("s"), 32), "client secret")
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.New()
	e := &env{t: t, mem: mem, store: mem, keys: newFakeKeys(), logs: &apitest.LogBuffer{}}
	e.svc = &Service{Store: mem, Keys: e.keys, ClientSecrets: secrets, Now: func() time.Time { return testNow }}
	for _, o := range opts {
		o(e)
	}
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.srv = httptest.NewServer(NewHandler(e.svc, testToken, logger))
	t.Cleanup(e.srv.Close)
	return e
}

// response is an answer, read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

// object decodes the body as a JSON object.
func (r response) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// decode decodes the body into v.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
}

// request describes a call; the zero value sends the right token and, with a body,
// Content-Type: application/json.
type request struct {
	method, path, body string
	auth               *string // nil: "Bearer " + testToken; "" : no header
	contentType        *string // nil: application/json when body is set
}

func ptr(s string) *string { return &s }

func (e *env) send(r request) response {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, e.srv.URL+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	switch {
	case r.auth == nil:
		req.Header.Set("Authorization", "Bearer "+testToken)
	case *r.auth != "":
		req.Header.Set("Authorization", *r.auth)
	}
	switch {
	case r.contentType != nil:
		if *r.contentType != "" {
			req.Header.Set("Content-Type", *r.contentType)
		}
	case r.body != "":
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (e *env) call(method, path, body string) response {
	e.t.Helper()
	return e.send(request{method: method, path: path, body: body})
}

// wantError checks an error answer: status, JSON shape and code.
func wantError(t *testing.T, r response, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	m := r.object(t)
	if m["error"] != code {
		t.Errorf("error %v, want %q (message %v)", m["error"], code, m["message"])
	}
	if msg, _ := m["message"].(string); msg == "" {
		t.Errorf("no message in %s", r.body)
	}
	if len(m) != 2 {
		t.Errorf("error body has extra fields: %s", r.body)
	}
	return m
}

func wantStatus(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
}

// snapshot is everything the store holds that the admin API can change.
type snapshot struct {
	clients []storage.Client
	users   []storage.User
}

func (e *env) snapshot() snapshot {
	e.t.Helper()
	ctx := context.Background()
	cs, err := e.mem.ListClients(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	us, err := e.mem.ListUsers(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return snapshot{clients: cs, users: us}
}

func (e *env) storedClient(id string) storage.Client {
	e.t.Helper()
	c, err := e.mem.GetClient(context.Background(), id)
	if err != nil {
		e.t.Fatalf("stored client %q: %v", id, err)
	}
	return c
}

// createClient registers a client through the API and returns its info.
func (e *env) createClient(body string) ClientInfo {
	e.t.Helper()
	r := e.call(http.MethodPost, "/admin/v1/clients", body)
	wantStatus(e.t, r, http.StatusCreated)
	var info ClientInfo
	r.decode(e.t, &info)
	return info
}
