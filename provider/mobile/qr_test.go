package mobile

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qrid/qrid/grants/qr"
	"github.com/qrid/qrid/storage"
)

// otherChoice returns a match choice that is not the session's match code.
func otherChoice(t *testing.T, s storage.QRSession) string {
	t.Helper()
	for _, c := range s.MatchChoices {
		if c != s.MatchCode {
			return c
		}
	}
	t.Fatal("no wrong choice")
	return ""
}

func TestScan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		client func(*env) storage.Client
		body   func(qr.Authorization) ScanRequest
	}{
		{"ok/qr_url", func(e *env) storage.Client { return e.tv }, func(a qr.Authorization) ScanRequest { return ScanRequest{QR: a.VerificationURIComplete} }},
		{"ok/bare_qr_id", func(e *env) storage.Client { return e.tv }, func(a qr.Authorization) ScanRequest { return ScanRequest{QR: a.QRID} }},
		{"ok/user_code", func(e *env) storage.Client { return e.tv }, func(a qr.Authorization) ScanRequest { return ScanRequest{UserCode: a.UserCode} }},
		{"ok/user_code_lenient", func(e *env) storage.Client { return e.tv }, func(a qr.Authorization) ScanRequest {
			return ScanRequest{UserCode: strings.ToLower(strings.ReplaceAll(a.UserCode, "-", " "))}
		}},
		{"ok/first_party_no_matching", func(e *env) storage.Client { return e.firstParty }, func(a qr.Authorization) ScanRequest { return ScanRequest{QR: a.VerificationURIComplete} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			phone := e.login("alice", alicePassword, "phone-1")
			client := tt.client(e)
			a := e.authorize(client)
			r := e.send(request{method: http.MethodPost, path: "/qr/scan", auth: phone, body: tt.body(a)})
			wantStatus(t, r, http.StatusOK)
			var out ScanResponse
			r.json(t, &out)
			if out.ConfirmToken == "" || out.ExpiresIn != 60 {
				t.Errorf("confirm token %q expires in %d, want 60", out.ConfirmToken, out.ExpiresIn)
			}
			wantClient := ClientInfo{ClientID: client.ID, Name: client.Name, LogoURI: client.LogoURI, ClientURI: client.ClientURI, FirstParty: client.FirstParty}
			if out.Client != wantClient {
				t.Errorf("client %+v, want %+v", out.Client, wantClient)
			}
			if !slices.Equal(out.Scopes, []string{"openid", "profile"}) {
				t.Errorf("scopes %q", out.Scopes)
			}
			if out.Requester.IP != "203.0.113.7" || out.Requester.UserAgent != "TestTV/1.0" || !out.Requester.CreatedAt.Equal(testStart) {
				t.Errorf("requester %+v", out.Requester)
			}
			sess := e.qrSession(a.QRID)
			if client.FirstParty {
				var raw map[string]any
				r.json(t, &raw)
				if _, ok := raw["match_choices"]; ok {
					t.Error("match_choices sent without number matching")
				}
			} else if !slices.Equal(out.MatchChoices, sess.MatchChoices) || !slices.Contains(out.MatchChoices, a.MatchCode) {
				t.Errorf("match choices %q, want %q containing %q", out.MatchChoices, sess.MatchChoices, a.MatchCode)
			}
			if sess.State != storage.QRScanned || sess.AccountID != e.alice.ID || sess.DeviceID != phone.ID {
				t.Errorf("session %s bound to %q/%q, want scanned by %q/%q", sess.State, sess.AccountID, sess.DeviceID, e.alice.ID, phone.ID)
			}
		})
	}
}

func TestScanFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		run        func(e *env, phone *session) response
		wantStatus int
		wantCode   string
	}{
		{"fail/unknown_qr", func(e *env, phone *session) response {
			return e.send(request{method: http.MethodPost, path: "/qr/scan", auth: phone, body: ScanRequest{QR: testIssuer + "/q/AAAAAAAAAAAAAAAAAAAAAA"}})
		}, http.StatusNotFound, "not_found"},
		{"fail/other_issuer", func(e *env, phone *session) response {
			a := e.authorize(e.tv)
			return e.send(request{method: http.MethodPost, path: "/qr/scan", auth: phone, body: ScanRequest{QR: "https://evil.example.test/q/" + a.QRID}})
		}, http.StatusNotFound, "not_found"},
		{"fail/unknown_user_code", func(e *env, phone *session) response {
			return e.send(request{method: http.MethodPost, path: "/qr/scan", auth: phone, body: ScanRequest{UserCode: "BCDF-GHJK"}})
		}, http.StatusNotFound, "not_found"},
		{"fail/expired", func(e *env, phone *session) response {
			a := e.authorize(e.tv)
			e.clock.Advance(5*time.Minute + time.Second)
			return e.send(request{method: http.MethodPost, path: "/qr/scan", auth: phone, body: ScanRequest{QR: a.VerificationURIComplete}})
		}, http.StatusGone, "expired"},
		{"fail/already_decided", func(e *env, phone *session) response {
			a := e.authorize(e.tv)
			out := e.scan(phone, a)
			wantStatus(e.t, e.confirm(phone, out.ConfirmToken, false, ""), http.StatusOK)
			return e.send(request{method: http.MethodPost, path: "/qr/scan", auth: phone, body: ScanRequest{QR: a.VerificationURIComplete}})
		}, http.StatusConflict, "already_used"},
		{"fail/client_deleted", func(e *env, phone *session) response {
			a := e.authorize(e.tv)
			if err := e.store.DeleteClient(context.Background(), e.tv.ID); err != nil {
				e.t.Fatal(err)
			}
			return e.send(request{method: http.MethodPost, path: "/qr/scan", auth: phone, body: ScanRequest{QR: a.VerificationURIComplete}})
		}, http.StatusNotFound, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			phone := e.login("alice", alicePassword, "phone-1")
			wantError(t, tt.run(e, phone), tt.wantStatus, tt.wantCode)
		})
	}
}

func TestScanRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(h *Handler) { h.ScanPerAccount = Limit{Every: 30 * time.Second, Burst: 2} })
	phone := e.login("alice", alicePassword, "phone-1")
	tablet := e.login("alice", alicePassword, "tablet-1")
	bobs := e.login("bob", bobPassword, "bob-phone")
	guess := func(dev *session) response {
		return e.send(request{method: http.MethodPost, path: "/qr/scan", auth: dev, body: ScanRequest{UserCode: "BCDF-GHJK"}})
	}
	wantError(t, guess(phone), http.StatusNotFound, "not_found")
	wantError(t, guess(phone), http.StatusNotFound, "not_found")
	// The limit is the account's, whichever device asks.
	r := guess(tablet)
	wantError(t, r, http.StatusTooManyRequests, CodeRateLimited)
	if got := r.header.Get("Retry-After"); got != "30" {
		t.Errorf("Retry-After %q, want 30", got)
	}
	// A real scan is limited too, and does not touch the session.
	a := e.authorize(e.tv)
	wantError(t, e.send(request{method: http.MethodPost, path: "/qr/scan", auth: phone, body: ScanRequest{QR: a.QRID}}),
		http.StatusTooManyRequests, CodeRateLimited)
	if s := e.qrSession(a.QRID); s.State != storage.QRPending {
		t.Errorf("a limited scan changed the session to %s", s.State)
	}
	// Other accounts are not limited.
	wantError(t, guess(bobs), http.StatusNotFound, "not_found")
	e.clock.Advance(30 * time.Second)
	e.scan(phone, a)
}

func TestConfirm(t *testing.T) {
	t.Parallel()
	type setup struct {
		e      *env
		phone  *session
		a      qr.Authorization
		scan   ScanResponse
		scans  storage.QRSession
		tablet *session
	}
	tests := []struct {
		name       string
		client     func(*env) storage.Client
		run        func(s setup) response
		wantStatus int
		wantCode   string // error code; "" for a 200
		// altCode is another acceptable error code.
		altCode    string
		wantResult string // status of a 200
		wantState  storage.QRState
		wantReason string
	}{
		{
			name:       "ok/approve",
			run:        func(s setup) response { return s.e.confirm(s.phone, s.scan.ConfirmToken, true, s.a.MatchCode) },
			wantStatus: http.StatusOK, wantResult: "approved", wantState: storage.QRApproved,
		},
		{
			name:       "ok/approve_first_party_without_match",
			client:     func(e *env) storage.Client { return e.firstParty },
			run:        func(s setup) response { return s.e.confirm(s.phone, s.scan.ConfirmToken, true, "") },
			wantStatus: http.StatusOK, wantResult: "approved", wantState: storage.QRApproved,
		},
		{
			name:       "ok/deny",
			run:        func(s setup) response { return s.e.confirm(s.phone, s.scan.ConfirmToken, false, "") },
			wantStatus: http.StatusOK, wantResult: "denied", wantState: storage.QRDenied, wantReason: "denied",
		},
		{
			name: "fail/replayed",
			run: func(s setup) response {
				wantStatus(s.e.t, s.e.confirm(s.phone, s.scan.ConfirmToken, true, s.a.MatchCode), http.StatusOK)
				return s.e.confirm(s.phone, s.scan.ConfirmToken, true, s.a.MatchCode)
			},
			wantStatus: http.StatusConflict, wantCode: "already_used", wantState: storage.QRApproved,
		},
		{
			name: "fail/wrong_match",
			run: func(s setup) response {
				return s.e.confirm(s.phone, s.scan.ConfirmToken, true, otherChoice(s.e.t, s.scans))
			},
			wantStatus: http.StatusForbidden, wantCode: "wrong_match", wantState: storage.QRDenied, wantReason: "wrong_match",
		},
		{
			name: "fail/right_match_after_wrong_match",
			run: func(s setup) response {
				wantError(s.e.t, s.e.confirm(s.phone, s.scan.ConfirmToken, true, otherChoice(s.e.t, s.scans)), http.StatusForbidden, "wrong_match")
				return s.e.confirm(s.phone, s.scan.ConfirmToken, true, s.a.MatchCode)
			},
			wantStatus: http.StatusConflict, wantCode: "already_used", wantState: storage.QRDenied, wantReason: "wrong_match",
		},
		{
			name:       "fail/match_missing",
			run:        func(s setup) response { return s.e.confirm(s.phone, s.scan.ConfirmToken, true, "") },
			wantStatus: http.StatusBadRequest, wantCode: "invalid_request", wantState: storage.QRScanned,
		},
		{
			name:       "fail/other_device",
			run:        func(s setup) response { return s.e.confirm(s.tablet, s.scan.ConfirmToken, true, s.a.MatchCode) },
			wantStatus: http.StatusForbidden, wantCode: "forbidden", wantState: storage.QRScanned,
		},
		{
			name: "fail/other_account",
			run: func(s setup) response {
				bobs := s.e.login("bob", bobPassword, "bob-phone")
				return s.e.confirm(bobs, s.scan.ConfirmToken, true, s.a.MatchCode)
			},
			wantStatus: http.StatusForbidden, wantCode: "forbidden", wantState: storage.QRScanned,
		},
		{
			name:       "fail/unknown_token",
			run:        func(s setup) response { return s.e.confirm(s.phone, s.scan.ConfirmToken+"x", true, s.a.MatchCode) },
			wantStatus: http.StatusNotFound, wantCode: "invalid_token", wantState: storage.QRScanned,
		},
		{
			name: "fail/token_replaced_by_rescan",
			run: func(s setup) response {
				fresh := s.e.scan(s.phone, s.a)
				if fresh.ConfirmToken == s.scan.ConfirmToken {
					s.e.t.Fatal("a rescan gave the same confirm token")
				}
				return s.e.confirm(s.phone, s.scan.ConfirmToken, true, s.a.MatchCode)
			},
			wantStatus: http.StatusNotFound, wantCode: "invalid_token", wantState: storage.QRScanned,
		},
		{
			name: "fail/second_device_scanned",
			run: func(s setup) response {
				r := s.e.send(request{method: http.MethodPost, path: "/qr/scan", auth: s.tablet, body: ScanRequest{QR: s.a.VerificationURIComplete}})
				wantError(s.e.t, r, http.StatusConflict, "already_scanned")
				return s.e.confirm(s.phone, s.scan.ConfirmToken, true, s.a.MatchCode)
			},
			// The contested session is closed for both devices: grants/qr answers
			// already_scanned while it still recognises the confirm token and
			// invalid_token once the closed session no longer holds it.
			wantStatus: http.StatusConflict, wantCode: "already_scanned", altCode: "invalid_token",
			wantState: storage.QRDenied, wantReason: "contested",
		},
		{
			name: "fail/confirm_token_expired",
			run: func(s setup) response {
				s.e.clock.Advance(61 * time.Second)
				return s.e.confirm(s.phone, s.scan.ConfirmToken, true, s.a.MatchCode)
			},
			wantStatus: http.StatusGone, wantCode: "expired", wantState: storage.QRScanned,
		},
		{
			name: "fail/session_expired",
			run: func(s setup) response {
				s.e.clock.Advance(5 * time.Minute)
				return s.e.confirm(s.phone, s.scan.ConfirmToken, true, s.a.MatchCode)
			},
			wantStatus: http.StatusGone, wantCode: "expired", wantState: storage.QRScanned,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			s := setup{e: e, phone: e.login("alice", alicePassword, "phone-1"), tablet: e.login("alice", alicePassword, "tablet-1")}
			client := e.tv
			if tt.client != nil {
				client = tt.client(e)
			}
			s.a = e.authorize(client)
			s.scan = e.scan(s.phone, s.a)
			s.scans = e.qrSession(s.a.QRID)
			r := tt.run(s)
			switch {
			case tt.altCode != "" && r.status == http.StatusNotFound:
				wantError(t, r, http.StatusNotFound, tt.altCode)
			case tt.wantCode != "":
				wantError(t, r, tt.wantStatus, tt.wantCode)
			default:
				wantStatus(t, r, tt.wantStatus)
				var out ConfirmResponse
				r.json(t, &out)
				if out.Status != tt.wantResult {
					t.Errorf("status %q, want %q", out.Status, tt.wantResult)
				}
			}
			sess := e.qrSession(s.a.QRID)
			if sess.State != tt.wantState || sess.DenyReason != tt.wantReason {
				t.Errorf("session %s (%q), want %s (%q)", sess.State, sess.DenyReason, tt.wantState, tt.wantReason)
			}
		})
	}
}

// TestFullFlow runs a QR sign-in as the PC sees it: authorize, poll, and the tokens
// become available only after the phone approved.
func TestFullFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	phone := e.login("alice", alicePassword, "phone-1")
	a := e.authorize(e.tv)
	ctx := context.Background()

	poll := func() qr.PollStatus {
		t.Helper()
		res, err := e.qr.Poll(ctx, e.tv.ID, a.DeviceCode, 0)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(5 * time.Second) // keep the polling interval
		return res.Status
	}
	if got := poll(); got != qr.PollPending {
		t.Fatalf("poll before scan: %v", got)
	}
	out := e.scan(phone, a)
	if got := poll(); got != qr.PollPending {
		t.Fatalf("poll after scan: %v", got)
	}
	r := e.confirm(phone, out.ConfirmToken, true, a.MatchCode)
	wantStatus(t, r, http.StatusOK)
	if got := poll(); got != qr.PollApproved {
		t.Fatalf("poll after approval: %v", got)
	}
	sess := e.qrSession(a.QRID)
	if sess.AccountID != e.alice.ID || sess.DeviceID != phone.ID {
		t.Errorf("approved for %q/%q", sess.AccountID, sess.DeviceID)
	}
}

// TestConcurrentConfirms: of several concurrent confirms with one token exactly one
// wins.
func TestConcurrentConfirms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	phone := e.login("alice", alicePassword, "phone-1")
	a := e.authorize(e.tv)
	out := e.scan(phone, a)
	const n = 8
	statuses := make(chan int, n)
	for range n {
		go func() {
			statuses <- e.confirm(phone, out.ConfirmToken, true, a.MatchCode).status
		}()
	}
	wins := 0
	for range n {
		switch s := <-statuses; s {
		case http.StatusOK:
			wins++
		case http.StatusConflict:
		default:
			t.Errorf("status %d", s)
		}
	}
	if wins != 1 {
		t.Errorf("%d confirms won, want 1", wins)
	}
}

// namedClients answers every client lookup itself, under a name of its own.
type namedClients struct {
	mu   sync.Mutex
	asks []string
}

func (n *namedClients) Get(_ context.Context, id string) (storage.Client, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.asks = append(n.asks, id)
	return storage.Client{ID: id, Name: "Named by Clients"}, nil
}

func TestScanReadsTheClientThroughClients(t *testing.T) {
	t.Parallel()
	clients := &namedClients{}
	e := newEnv(t, func(h *Handler) { h.Clients = clients })
	phone := e.login("alice", alicePassword, "phone-1")
	out := e.scan(phone, e.authorize(e.tv))
	if out.Client.Name != "Named by Clients" {
		t.Fatalf("the scan showed %q, not the client Clients gave", out.Client.Name)
	}
	clients.mu.Lock()
	defer clients.mu.Unlock()
	if len(clients.asks) != 1 || clients.asks[0] != e.tv.ID {
		t.Fatalf("Clients was asked for %v, want [%s]", clients.asks, e.tv.ID)
	}
}
