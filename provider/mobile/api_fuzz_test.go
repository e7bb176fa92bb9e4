package mobile

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"golang.org/x/crypto/argon2"

	"github.com/qrid/qrid/grants/qr"
	"github.com/qrid/qrid/provider/digest"
	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
)

// The fuzz targets of the mobile API's JSON bodies. One handler is built per fuzz
// run (fuzzAPI); every input gets fresh QR sessions on a clock moved an hour on, and
// the sessions of earlier inputs are collected, so inputs do not see each other's
// sessions. Bodies may carry placeholders ($QR, $USER_CODE, $CONFIRM, $MATCH,
// $WRONG_MATCH) replaced by the live values of this input's sessions.

const fuzzPW = "correct horse battery staple"

type fuzzAPI struct {
	store  *memory.Store
	qr     *qr.Service
	clock  *clock
	router *mux.Router
	tv     storage.Client
	// alice's signed-in phone: its token, X-Device-Id and qrid's ID of the device.
	token, deviceID, id string
}

func newFuzzAPI(f *testing.F) *fuzzAPI {
	f.Helper()
	ctx := context.Background()
	a := &fuzzAPI{store: memory.New(), clock: &clock{now: testStart}}
	secret := []byte("0123456789abcdef0123456789abcdef-fuzz-secret")
	keyed := func(purpose string) *digest.Keyed {
		k, err := digest.New(secret, purpose)
		if err != nil {
			f.Fatal(err)
		}
		return k
	}
	svc, err := qr.NewService(a.store, qr.NewHub(), qr.Config{
		Issuer: testIssuer, DeviceCodes: keyed("device code").String, UserCodes: keyed("user code").String,
		ConfirmTokens: keyed("confirm token").String, Now: a.clock.Now,
	})
	if err != nil {
		f.Fatal(err)
	}
	a.qr = svc
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	hash := fmt.Sprintf("$argon2id$v=%d$m=64,t=1,p=1$%s$%s", argon2.Version, base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte(fuzzPW), salt, 1, 64, 1, 32)))
	for _, u := range []storage.User{
		{ID: "acct-alice", Username: "alice", PasswordHash: hash, CreatedAt: testStart},
		{ID: "acct-bob", Username: "bob", PasswordHash: "not a PHC string", CreatedAt: testStart},
	} {
		if err := a.store.CreateUser(ctx, u); err != nil {
			f.Fatal(err)
		}
	}
	a.tv = storage.Client{ID: "tv-app", Name: "Living Room TV", GrantTypes: []string{qr.GrantTypeDeviceCode},
		TokenEndpointAuthMethod: "none", CreatedAt: testStart}
	if err := a.store.CreateClient(ctx, a.tv); err != nil {
		f.Fatal(err)
	}
	// Limits high enough that the fuzzer reaches past them; the limiters still run.
	lots := Limit{Every: time.Nanosecond, Burst: 1 << 30}
	h := &Handler{Store: a.store, QR: svc, DeviceTokens: keyed("device token"), Now: a.clock.Now,
		Logger: slog.New(slog.DiscardHandler), LoginPerAccount: lots, LoginPerIP: lots, ScanPerAccount: lots}
	a.router = mux.NewRouter()
	h.Mount(a.router)

	rec := a.do(f.Context(), http.MethodPost, "/login", "application/json",
		`{"username":"alice","password":"`+fuzzPW+`","device_id":"phone-1","device_type":"ios"}`, false)
	var login LoginResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &login); err != nil || login.Token == "" {
		f.Fatalf("login: %d: %s", rec.Code, rec.Body)
	}
	a.token, a.deviceID, a.id = login.Token, login.DeviceID, login.ID
	return a
}

func (a *fuzzAPI) do(ctx context.Context, method, path, contentType, body string, authed bool) *httptest.ResponseRecorder {
	r := httptest.NewRequestWithContext(ctx, method, PathPrefix+path, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if authed {
		r.Header.Set("Authorization", "Bearer "+a.token)
		r.Header.Set("X-Device-Id", a.deviceID)
	}
	rec := httptest.NewRecorder()
	a.router.ServeHTTP(rec, r)
	return rec
}

// fuzzRound is one input's QR sessions: a pending one and one alice's phone has
// scanned (number matching on).
type fuzzRound struct {
	pending, scanned qr.Authorization
	confirm          string
	values           *strings.Replacer
}

func (a *fuzzAPI) newRound(t *testing.T) *fuzzRound {
	t.Helper()
	ctx := t.Context()
	a.clock.Advance(time.Hour + storage.QRSessionRetention)
	if _, err := a.store.GarbageCollect(ctx, a.clock.Now()); err != nil {
		t.Fatal(err)
	}
	a.qr.Hub().Sweep(a.clock.Now())
	authorize := func() qr.Authorization {
		az, err := a.qr.Authorize(ctx, qr.AuthorizeRequest{ClientID: a.tv.ID, Scopes: []string{"openid", "profile"},
			Matching: true, RequesterIP: "203.0.113.7", RequesterUserAgent: "FuzzTV/1.0"})
		if err != nil {
			t.Fatal(err)
		}
		return az
	}
	r := &fuzzRound{pending: authorize(), scanned: authorize()}
	res, err := a.qr.Scan(ctx, qr.ScanRequest{QR: r.scanned.VerificationURIComplete, AccountID: "acct-alice", DeviceID: a.id})
	if err != nil {
		t.Fatal(err)
	}
	r.confirm = res.ConfirmToken
	wrong := "00"
	for _, c := range r.scanned.Session.MatchChoices {
		if c != r.scanned.MatchCode {
			wrong = c
		}
	}
	r.values = strings.NewReplacer("$QR", r.pending.VerificationURIComplete, "$USER_CODE", r.pending.UserCode,
		"$QRID", r.pending.QRID, "$SCANNED_QR", r.scanned.VerificationURIComplete,
		"$CONFIRM", r.confirm, "$WRONG_MATCH", wrong, "$MATCH", r.scanned.MatchCode)
	return r
}

// checkAnswer checks what every mobile API answer must be: not a 5xx, JSON, and an
// error object with exactly error and message when it is not a success.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if rec.Code == http.StatusNoContent {
		return
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("status %d: not a JSON object: %s", rec.Code, rec.Body)
	}
	if rec.Code >= 400 {
		code, _ := body["error"].(string)
		msg, _ := body["message"].(string)
		if code == "" || msg == "" || len(body) != 2 {
			t.Fatalf("status %d: malformed error: %s", rec.Code, rec.Body)
		}
	}
}

func (a *fuzzAPI) session(t *testing.T, id string) storage.QRSession {
	t.Helper()
	s, err := a.store.GetQRSession(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sameQR compares the parts of a session a request could change.
func sameQR(a, b storage.QRSession) bool {
	return a.State == b.State && a.AccountID == b.AccountID && a.DeviceID == b.DeviceID &&
		a.ConfirmTokenDigest == b.ConfirmTokenDigest && a.DenyReason == b.DenyReason &&
		a.ConfirmExpiresAt.Equal(b.ConfirmExpiresAt) && a.DecidedAt.Equal(b.DecidedAt) && a.Version == b.Version
}

// FuzzLogin posts arbitrary bodies to POST /login: never a 5xx, every answer JSON,
// and a device token only for alice's password.
func FuzzLogin(f *testing.F) {
	a := newFuzzAPI(f)
	for _, seed := range []string{
		`{"username":"alice","password":"` + fuzzPW + `","device_id":"phone-2","device_type":"android","device_name":"Pixel"}`,
		`{"username":" ALICE ","password":"` + fuzzPW + `","device_id":"phone-1","device_type":"ios"}`,
		`{"username":"alice","password":"wrong","device_id":"d","device_type":"ios"}`,
		`{"username":"bob","password":"x","device_id":"d","device_type":"ios"}`,
		`{"username":"alice","password":"x","device_id":" d","device_type":"ios"}`,
		`{"username":"alice","password":"x","device_id":"d","device_type":"iOS"}`,
		`{"username":"alice","password":"x","device_id":"d","device_type":"ios","device_name":"a\u0000b"}`,
		`{"username":"alice","password":"x","device_id":"d","device_type":"ios","admin":true}`,
		`{"username":1}`,
		`{"username":"alice"} {}`,
		`{"username":"\ud800"}`,
		`[]`, `null`, `""`, ``, `{`,
	} {
		f.Add("application/json", []byte(seed))
	}
	f.Add("application/json; charset=utf-8", []byte(`{"username":"alice"}`))
	f.Add("text/plain", []byte(`{}`))
	f.Add("", []byte(`{}`))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		a.clock.Advance(time.Minute)
		rec := a.do(t.Context(), http.MethodPost, "/login", contentType, string(body), false)
		checkAnswer(t, rec)
		if rec.Code != http.StatusOK {
			return
		}
		var req LoginRequest
		_ = json.Unmarshal(body, &req)
		if strings.ToLower(strings.TrimSpace(req.Username)) != "alice" || req.Password != fuzzPW {
			t.Fatalf("signed in with %s", body)
		}
		var out LoginResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Token == "" || out.AccountID != "acct-alice" ||
			out.DeviceID != req.DeviceID || out.ID == "" {
			t.Fatalf("malformed sign-in answer: %s", rec.Body)
		}
	})
}

// FuzzScan posts arbitrary bodies to POST /qr/scan from alice's phone: never a 5xx,
// every answer JSON; a refused scan changes no session, and a successful one binds
// this input's pending session (or rescans the scanned one) to alice's phone.
func FuzzScan(f *testing.F) {
	a := newFuzzAPI(f)
	for _, seed := range []string{
		`{"qr":"$QR"}`, `{"qr":"$QRID"}`, `{"user_code":"$USER_CODE"}`, `{"user_code":"bcdf ghjk"}`,
		`{"qr":"$SCANNED_QR"}`, `{"qr":"$QR","user_code":"$USER_CODE"}`, `{"qr":"https://evil.example/q/$QRID"}`,
		`{"qr":"$QR?x=1"}`, `{"qr":"$QR/"}`, `{"qr":""}`, `{}`, `{"qr":1}`, `{"qr":"$QR"}x`, `null`,
	} {
		f.Add("application/json", []byte(seed))
	}
	f.Add("", []byte(`{"qr":"$QR"}`))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r := a.newRound(t)
		sent := r.values.Replace(string(body))
		pendingBefore, scannedBefore := a.session(t, r.pending.QRID), a.session(t, r.scanned.QRID)
		rec := a.do(t.Context(), http.MethodPost, "/qr/scan", contentType, sent, true)
		checkAnswer(t, rec)
		pendingAfter, scannedAfter := a.session(t, r.pending.QRID), a.session(t, r.scanned.QRID)
		if rec.Code != http.StatusOK {
			if !sameQR(pendingBefore, pendingAfter) || !sameQR(scannedBefore, scannedAfter) {
				t.Fatalf("a refused scan (%d: %s) changed a session", rec.Code, rec.Body)
			}
			return
		}
		var out ScanResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.ConfirmToken == "" || out.ExpiresIn <= 0 ||
			out.Client.ClientID != a.tv.ID || len(out.MatchChoices) != 3 {
			t.Fatalf("malformed scan answer: %s", rec.Body)
		}
		switch {
		case pendingAfter.State == storage.QRScanned && sameQR(scannedBefore, scannedAfter):
			if pendingAfter.AccountID != "acct-alice" {
				t.Fatalf("scanned for %q", pendingAfter.AccountID)
			}
		case sameQR(pendingBefore, pendingAfter) && scannedAfter.State == storage.QRScanned:
			if scannedAfter.ConfirmTokenDigest == scannedBefore.ConfirmTokenDigest {
				t.Fatal("a rescan kept the old confirm token")
			}
		default:
			t.Fatalf("a scan (%s) changed the wrong sessions:\npending %+v\nscanned %+v", sent, pendingAfter, scannedAfter)
		}
	})
}

// FuzzConfirm posts arbitrary bodies to POST /qr/confirm from alice's phone: never a
// 5xx, every answer JSON; a refused decision changes no session (except a wrong
// number, which closes it), and an approval needs this input's confirm token and the
// number shown on the PC.
func FuzzConfirm(f *testing.F) {
	a := newFuzzAPI(f)
	for _, seed := range []string{
		`{"confirm_token":"$CONFIRM","approve":true,"match":"$MATCH"}`,
		`{"confirm_token":"$CONFIRM","approve":true,"match":"$WRONG_MATCH"}`,
		`{"confirm_token":"$CONFIRM","approve":true}`,
		`{"confirm_token":"$CONFIRM","approve":false}`,
		`{"confirm_token":"$CONFIRM","approve":false,"match":"$WRONG_MATCH"}`,
		`{"confirm_token":"$CONFIRM","match":"$MATCH"}`,
		`{"confirm_token":"$CONFIRM","approve":"yes"}`,
		`{"confirm_token":"$CONFIRM","approve":true,"match":"4"}`,
		`{"confirm_token":"$CONFIRMx","approve":true,"match":"$MATCH"}`,
		`{"confirm_token":"","approve":true}`,
		`{"confirm_token":"$CONFIRM","approve":true,"match":"$MATCH","extra":1}`,
		`{"approve":null}`, `{}`, `[]`, ``,
	} {
		f.Add("application/json", []byte(seed))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r := a.newRound(t)
		sent := r.values.Replace(string(body))
		pendingBefore, before := a.session(t, r.pending.QRID), a.session(t, r.scanned.QRID)
		rec := a.do(t.Context(), http.MethodPost, "/qr/confirm", contentType, sent, true)
		checkAnswer(t, rec)
		after := a.session(t, r.scanned.QRID)
		if !sameQR(pendingBefore, a.session(t, r.pending.QRID)) {
			t.Fatalf("a decision changed a session nobody scanned: %s", sent)
		}
		var req ConfirmRequest
		_ = json.Unmarshal([]byte(sent), &req)
		if rec.Code != http.StatusOK {
			closed := after.State == storage.QRDenied && after.DenyReason == "wrong_match" && rec.Code == http.StatusForbidden
			if !sameQR(before, after) && !closed {
				t.Fatalf("a refused decision (%d: %s) changed the session: %+v", rec.Code, rec.Body, after)
			}
			return
		}
		var out ConfirmResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || (out.Status != "approved" && out.Status != "denied") {
			t.Fatalf("malformed decision answer: %s", rec.Body)
		}
		if req.ConfirmToken != r.confirm || req.Approve == nil {
			t.Fatalf("a decision without this input's confirm token was accepted: %s", sent)
		}
		want := storage.QRDenied
		if *req.Approve {
			want = storage.QRApproved
			if req.Match != r.scanned.MatchCode {
				t.Fatalf("approved with match %q, shown %q", req.Match, r.scanned.MatchCode)
			}
		}
		if after.State != want || out.Status != string(want) {
			t.Fatalf("decision %s: session %s, answer %s", sent, after.State, out.Status)
		}
		if reflect.DeepEqual(before, after) {
			t.Fatal("an accepted decision changed nothing")
		}
	})
}
