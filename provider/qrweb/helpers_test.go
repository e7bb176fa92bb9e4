package qrweb

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/qrid/qrid/grants/qr"
	"github.com/qrid/qrid/storage"
)

const testIssuer = "https://id.example.test"

// Fixed qr_ids (22 characters of base64url) for the fake's sessions.
const (
	idPending  = "AAAAAAAAAAAAAAAAAAAAAA"
	idScanned  = "BBBBBBBBBBBBBBBBBBBB-_"
	idExpired  = "CCCCCCCCCCCCCCCCCCCCCA"
	idApproved = "DDDDDDDDDDDDDDDDDDDDDA"
	idDenied   = "EEEEEEEEEEEEEEEEEEEEEA"
	idConsumed = "FFFFFFFFFFFFFFFFFFFFFA"
	idBroken   = "GGGGGGGGGGGGGGGGGGGGGA" // the store fails on it
	idUnknown  = "ZZZZZZZZZZZZZZZZZZZZZA"
)

// t0 is the fake clock's start; the fake's live sessions expire 300 s later.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeSessions is an in-memory Sessions; an unknown id is qr.ErrNotFound.
type fakeSessions struct {
	mu       sync.Mutex
	sessions map[string]storage.QRSession
	fail     map[string]error
}

func (f *fakeSessions) Session(_ context.Context, id string) (storage.QRSession, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err, ok := f.fail[id]; ok {
		return storage.QRSession{}, err
	}
	s, ok := f.sessions[id]
	if !ok {
		return storage.QRSession{}, qr.ErrNotFound
	}
	return s, nil
}

// secretSession is a session whose every non-public field holds a value a page
// must never show.
func secretSession(id string, state storage.QRState, expires time.Time) storage.QRSession {
	return storage.QRSession{
		ID:                 id,
		Kind:               "device",
		DeviceCodeDigest:   "device-code-digest-must-not-leak",
		UserCodeDigest:     "user-code-digest-must-not-leak",
		ClientID:           "client-id-must-not-leak",
		Scopes:             []string{"openid", "scope-must-not-leak"},
		State:              state,
		MatchCode:          "MATCHCODE-must-not-leak",
		RequesterIP:        "203.0.113.77",
		RequesterUserAgent: "agent-must-not-leak",
		CreatedAt:          t0,
		ExpiresAt:          expires,
		ConfirmTokenDigest: "confirm-digest-must-not-leak",
		AccountID:          "account-must-not-leak",
		Version:            1,
	}
}

func newFake() *fakeSessions {
	live := t0.Add(300 * time.Second)
	f := &fakeSessions{
		sessions: map[string]storage.QRSession{},
		fail:     map[string]error{idBroken: errors.New("store unreachable")},
	}
	for id, st := range map[string]storage.QRState{
		idPending: storage.QRPending, idScanned: storage.QRScanned,
		idApproved: storage.QRApproved, idDenied: storage.QRDenied, idConsumed: storage.QRConsumed,
	} {
		f.sessions[id] = secretSession(id, st, live)
	}
	f.sessions[idExpired] = secretSession(idExpired, storage.QRPending, t0.Add(-time.Second))
	return f
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// newTestRouter mounts a Handler on a router set up as the provider's (paths
// matched as sent) over the fake, with the clock at t0.
func newTestRouter(t testing.TB) (http.Handler, *clock, *fakeSessions) {
	t.Helper()
	c := &clock{t: t0}
	f := newFake()
	h := &Handler{QR: f, Issuer: testIssuer, Now: c.Now, Logger: slog.New(slog.DiscardHandler)}
	r := mux.NewRouter().SkipClean(true)
	h.Mount(r)
	return r, c, f
}

// get serves a GET of target and returns the response and its body.
func get(t testing.TB, h http.Handler, target string) (*http.Response, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// httptestRecorder serves one request with method and target.
func httptestRecorder(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}
