package mobile

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/qrid/qrid/provider/dpop"
)

// phoneKey is a device's DPoP key.
type phoneKey struct {
	t   *testing.T
	key *ecdsa.PrivateKey
}

func newPhoneKey(t *testing.T) *phoneKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &phoneKey{t: t, key: k}
}

// proof is a proof for method on issuer+PathPrefix+path, with ath for token
// (none when ""), issued at.
func (k *phoneKey) proofAt(method, path, token string, at time.Time) string {
	k.t.Helper()
	p, err := dpop.NewProof(k.key, method, testIssuer+PathPrefix+path, token, at)
	if err != nil {
		k.t.Fatal(err)
	}
	return p
}

func (k *phoneKey) thumbprint() string {
	k.t.Helper()
	tp, err := dpop.Thumbprint(k.key.Public())
	if err != nil {
		k.t.Fatal(err)
	}
	return tp
}

// dpopLogin signs in with a proof made by key and fails the test unless the token
// is DPoP-bound.
func (e *env) dpopLogin(key *phoneKey, username, pw, deviceID string) *session {
	e.t.Helper()
	r := e.send(request{method: http.MethodPost, path: "/login", body: loginBody(username, pw, deviceID),
		header: http.Header{"DPoP": {key.proofAt(http.MethodPost, "/login", "", e.clock.Now())}}})
	wantStatus(e.t, r, http.StatusOK)
	var s session
	r.json(e.t, &s.LoginResponse)
	if s.TokenType != "DPoP" {
		e.t.Fatalf("token_type %q, want DPoP", s.TokenType)
	}
	return &s
}

// dpopHeaders authenticates a call with a DPoP-bound token and proof.
func dpopHeaders(s *session, proof string) http.Header {
	h := http.Header{"Authorization": {"DPoP " + s.Token}}
	if proof != "" {
		h.Set("DPoP", proof)
	}
	return h
}

func wantChallenge(t *testing.T, r response, errParam string) {
	t.Helper()
	got := strings.Join(r.header.Values("WWW-Authenticate"), ", ")
	if !strings.Contains(got, `DPoP realm="qrid-mobile", error="`+errParam+`", error_description="`) ||
		!strings.Contains(got, `algs="ES256 RS256 EdDSA"`) {
		t.Errorf("WWW-Authenticate %q, want a DPoP challenge with error=%q", got, errParam)
	}
}

func TestDPoPLoginBindsToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key := newPhoneKey(t)
	s := e.dpopLogin(key, "alice", alicePassword, "phone-1")
	dev, err := e.store.GetDevice(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if dev.DPoPThumbprint != key.thumbprint() {
		t.Errorf("stored thumbprint %q, want %q", dev.DPoPThumbprint, key.thumbprint())
	}

	plain := e.login("alice", alicePassword, "phone-2")
	if plain.TokenType != "Bearer" {
		t.Errorf("token_type %q without a proof, want Bearer", plain.TokenType)
	}
	dev, err = e.store.GetDevice(context.Background(), plain.ID)
	if err != nil || dev.DPoPThumbprint != "" {
		t.Errorf("a sign-in without a proof stored %+v, %v; want no thumbprint", dev, err)
	}
}

func TestDPoPLoginRefusesBadProofs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		proof func(e *env, k *phoneKey) []string
	}{
		{"fail/garbage", func(*env, *phoneKey) []string { return []string{"not-a-proof"} }},
		{"fail/empty", func(*env, *phoneKey) []string { return []string{" "} }},
		{"fail/two_proofs", func(e *env, k *phoneKey) []string {
			return []string{k.proofAt(http.MethodPost, "/login", "", e.clock.Now()), k.proofAt(http.MethodPost, "/login", "", e.clock.Now())}
		}},
		{"fail/wrong_htm", func(e *env, k *phoneKey) []string {
			return []string{k.proofAt(http.MethodGet, "/login", "", e.clock.Now())}
		}},
		{"fail/wrong_htu_path", func(e *env, k *phoneKey) []string {
			return []string{k.proofAt(http.MethodPost, "/logout", "", e.clock.Now())}
		}},
		{"fail/htu_of_the_listener_not_the_issuer", func(e *env, k *phoneKey) []string {
			p, err := dpop.NewProof(k.key, http.MethodPost, e.srv.URL+PathPrefix+"/login", "", e.clock.Now())
			if err != nil {
				e.t.Fatal(err)
			}
			return []string{p}
		}},
		{"fail/stale_iat", func(e *env, k *phoneKey) []string {
			return []string{k.proofAt(http.MethodPost, "/login", "", e.clock.Now().Add(-61*time.Second))}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			r := e.send(request{method: http.MethodPost, path: "/login", body: loginBody("alice", alicePassword, "phone-1"),
				header: http.Header{"DPoP": tt.proof(e, newPhoneKey(t))}})
			wantError(t, r, http.StatusBadRequest, CodeInvalidDPoPProof)
			if devices, _ := e.store.ListDevices(context.Background(), e.alice.ID); len(devices) != 0 {
				t.Errorf("a refused sign-in stored %d devices", len(devices))
			}
		})
	}
}

func TestDPoPLoginProofReplayed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	proof := newPhoneKey(t).proofAt(http.MethodPost, "/login", "", e.clock.Now())
	send := func() response {
		return e.send(request{method: http.MethodPost, path: "/login", body: loginBody("alice", alicePassword, "phone-1"),
			header: http.Header{"DPoP": {proof}}})
	}
	wantStatus(t, send(), http.StatusOK)
	r := send()
	wantError(t, r, http.StatusBadRequest, CodeInvalidDPoPProof)
	if !strings.Contains(r.errorMessage(t), "used already") {
		t.Errorf("message %q does not say the proof was used", r.errorMessage(t))
	}
}

func (r response) errorMessage(t *testing.T) string {
	t.Helper()
	var body struct{ Message string }
	r.json(t, &body)
	return body.Message
}

func TestDPoPBoundToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// headers builds the call's headers for the device s bound to key k.
		headers  func(e *env, s *session, k *phoneKey) http.Header
		path     string // default /devices
		wantCode string // "" for 200
		wantErr  string // the challenge's error parameter
		wantMsg  string
	}{
		{name: "ok", headers: func(e *env, s *session, k *phoneKey) http.Header {
			return dpopHeaders(s, k.proofAt(http.MethodGet, "/devices", s.Token, e.clock.Now()))
		}},
		{name: "ok/scheme_case_insensitive", headers: func(e *env, s *session, k *phoneKey) http.Header {
			h := dpopHeaders(s, k.proofAt(http.MethodGet, "/devices", s.Token, e.clock.Now()))
			h.Set("Authorization", "dpop "+s.Token)
			return h
		}},
		{name: "ok/query_ignored", path: "/devices?page=1", headers: func(e *env, s *session, k *phoneKey) http.Header {
			return dpopHeaders(s, k.proofAt(http.MethodGet, "/devices", s.Token, e.clock.Now()))
		}},
		{name: "ok/iat_59s_ago", headers: func(e *env, s *session, k *phoneKey) http.Header {
			return dpopHeaders(s, k.proofAt(http.MethodGet, "/devices", s.Token, e.clock.Now().Add(-59*time.Second)))
		}},
		{name: "fail/sent_as_bearer", wantCode: CodeUnauthorized, wantErr: "invalid_token", wantMsg: "bound to a DPoP key",
			headers: func(e *env, s *session, k *phoneKey) http.Header {
				h := dpopHeaders(s, k.proofAt(http.MethodGet, "/devices", s.Token, e.clock.Now()))
				h.Set("Authorization", "Bearer "+s.Token)
				return h
			}},
		{name: "fail/without_proof", wantCode: CodeInvalidDPoPProof, wantErr: "invalid_dpop_proof", wantMsg: "missing",
			headers: func(e *env, s *session, k *phoneKey) http.Header { return dpopHeaders(s, "") }},
		{name: "fail/two_proofs", wantCode: CodeInvalidDPoPProof, wantErr: "invalid_dpop_proof", wantMsg: "one DPoP header",
			headers: func(e *env, s *session, k *phoneKey) http.Header {
				h := dpopHeaders(s, k.proofAt(http.MethodGet, "/devices", s.Token, e.clock.Now()))
				h.Add("DPoP", k.proofAt(http.MethodGet, "/devices", s.Token, e.clock.Now()))
				return h
			}},
		{name: "fail/proof_of_another_key", wantCode: CodeInvalidDPoPProof, wantErr: "invalid_dpop_proof", wantMsg: "key other than",
			headers: func(e *env, s *session, _ *phoneKey) http.Header {
				return dpopHeaders(s, newPhoneKey(e.t).proofAt(http.MethodGet, "/devices", s.Token, e.clock.Now()))
			}},
		{name: "fail/stale_iat", wantCode: CodeInvalidDPoPProof, wantErr: "invalid_dpop_proof", wantMsg: "iat",
			headers: func(e *env, s *session, k *phoneKey) http.Header {
				return dpopHeaders(s, k.proofAt(http.MethodGet, "/devices", s.Token, e.clock.Now().Add(-61*time.Second)))
			}},
		{name: "fail/future_iat", wantCode: CodeInvalidDPoPProof, wantErr: "invalid_dpop_proof", wantMsg: "iat",
			headers: func(e *env, s *session, k *phoneKey) http.Header {
				return dpopHeaders(s, k.proofAt(http.MethodGet, "/devices", s.Token, e.clock.Now().Add(61*time.Second)))
			}},
		{name: "fail/wrong_htm", wantCode: CodeInvalidDPoPProof, wantErr: "invalid_dpop_proof", wantMsg: "method",
			headers: func(e *env, s *session, k *phoneKey) http.Header {
				return dpopHeaders(s, k.proofAt(http.MethodPost, "/devices", s.Token, e.clock.Now()))
			}},
		{name: "fail/wrong_htu", wantCode: CodeInvalidDPoPProof, wantErr: "invalid_dpop_proof", wantMsg: "htu",
			headers: func(e *env, s *session, k *phoneKey) http.Header {
				return dpopHeaders(s, k.proofAt(http.MethodGet, "/qr/scan", s.Token, e.clock.Now()))
			}},
		{name: "fail/htu_of_the_listener_not_the_issuer", wantCode: CodeInvalidDPoPProof, wantErr: "invalid_dpop_proof", wantMsg: "htu",
			headers: func(e *env, s *session, k *phoneKey) http.Header {
				p, err := dpop.NewProof(k.key, http.MethodGet, e.srv.URL+PathPrefix+"/devices", s.Token, e.clock.Now())
				if err != nil {
					e.t.Fatal(err)
				}
				return dpopHeaders(s, p)
			}},
		{name: "fail/ath_of_another_token", wantCode: CodeInvalidDPoPProof, wantErr: "invalid_dpop_proof", wantMsg: "ath",
			headers: func(e *env, s *session, k *phoneKey) http.Header {
				return dpopHeaders(s, k.proofAt(http.MethodGet, "/devices", "another-token", e.clock.Now()))
			}},
		{name: "fail/no_ath", wantCode: CodeInvalidDPoPProof, wantErr: "invalid_dpop_proof", wantMsg: "ath",
			headers: func(e *env, s *session, k *phoneKey) http.Header {
				return dpopHeaders(s, k.proofAt(http.MethodGet, "/devices", "", e.clock.Now()))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			k := newPhoneKey(t)
			s := e.dpopLogin(k, "alice", alicePassword, "phone-1")
			path := tt.path
			if path == "" {
				path = "/devices"
			}
			r := e.send(request{method: http.MethodGet, path: path, auth: s, header: tt.headers(e, s, k)})
			if tt.wantCode == "" {
				wantStatus(t, r, http.StatusOK)
				return
			}
			wantError(t, r, http.StatusUnauthorized, tt.wantCode)
			wantChallenge(t, r, tt.wantErr)
			if msg := r.errorMessage(t); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message %q does not mention %q", msg, tt.wantMsg)
			}
		})
	}
}

func TestDPoPProofReplayRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := newPhoneKey(t)
	s := e.dpopLogin(k, "alice", alicePassword, "phone-1")
	proof := k.proofAt(http.MethodGet, "/devices", s.Token, e.clock.Now())
	first := e.send(request{method: http.MethodGet, path: "/devices", auth: s, header: dpopHeaders(s, proof)})
	wantStatus(t, first, http.StatusOK)
	again := e.send(request{method: http.MethodGet, path: "/devices", auth: s, header: dpopHeaders(s, proof)})
	wantError(t, again, http.StatusUnauthorized, CodeInvalidDPoPProof)
	wantChallenge(t, again, "invalid_dpop_proof")
	// A fresh proof works; so does a proof for each call of a QR sign-in.
	fresh := e.send(request{method: http.MethodGet, path: "/devices", auth: s,
		header: dpopHeaders(s, k.proofAt(http.MethodGet, "/devices", s.Token, e.clock.Now()))})
	wantStatus(t, fresh, http.StatusOK)
	a := e.authorize(e.firstParty)
	scan := e.send(request{method: http.MethodPost, path: "/qr/scan", auth: s, body: ScanRequest{QR: a.VerificationURIComplete},
		header: dpopHeaders(s, k.proofAt(http.MethodPost, "/qr/scan", s.Token, e.clock.Now()))})
	wantStatus(t, scan, http.StatusOK)
	var sr ScanResponse
	scan.json(t, &sr)
	confirm := e.send(request{method: http.MethodPost, path: "/qr/confirm", auth: s,
		body:   map[string]any{"confirm_token": sr.ConfirmToken, "approve": true},
		header: dpopHeaders(s, k.proofAt(http.MethodPost, "/qr/confirm", s.Token, e.clock.Now()))})
	wantStatus(t, confirm, http.StatusOK)
}

// TestDPoPIatWindowFollowsInjectedClock: a proof made now is refused once the
// handler's clock has moved on by more than a minute.
func TestDPoPIatWindowFollowsInjectedClock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := newPhoneKey(t)
	s := e.dpopLogin(k, "alice", alicePassword, "phone-1")
	proof := k.proofAt(http.MethodGet, "/devices", s.Token, e.clock.Now())
	e.clock.Advance(61 * time.Second)
	r := e.send(request{method: http.MethodGet, path: "/devices", auth: s, header: dpopHeaders(s, proof)})
	wantError(t, r, http.StatusUnauthorized, CodeInvalidDPoPProof)
}

// TestDPoPReplayAcrossNodes: two handlers on one store are two nodes; a proof used
// on one is refused by the other.
func TestDPoPReplayAcrossNodes(t *testing.T) {
	t.Parallel()
	var nodeA *Handler
	e := newEnv(t, func(h *Handler) { nodeA = h })
	k := newPhoneKey(t)
	s := e.dpopLogin(k, "alice", alicePassword, "phone-1")
	nodeB := mux.NewRouter()
	(&Handler{Store: e.store, QR: e.qr, DeviceTokens: nodeA.DeviceTokens, Now: e.clock.Now}).Mount(nodeB)
	srvB := httptest.NewServer(nodeB)
	t.Cleanup(srvB.Close)

	proof := k.proofAt(http.MethodGet, "/devices", s.Token, e.clock.Now())
	wantStatus(t, e.send(request{method: http.MethodGet, path: "/devices", auth: s, header: dpopHeaders(s, proof)}), http.StatusOK)
	req, err := http.NewRequest(http.MethodGet, srvB.URL+PathPrefix+"/devices", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = dpopHeaders(s, proof)
	req.Header.Set("X-Device-Id", s.DeviceID)
	res, err := srvB.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_dpop_proof"`) {
		t.Errorf("replay on node B: status %d, WWW-Authenticate %q; want 401 invalid_dpop_proof", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
}

// TestDPoPHtuUsesConfiguredIssuer: with Handler.Issuer set, proofs name that URL.
func TestDPoPHtuUsesConfiguredIssuer(t *testing.T) {
	t.Parallel()
	const issuer = "https://login.example.test/"
	e := newEnv(t, func(h *Handler) { h.Issuer = issuer })
	k := newPhoneKey(t)
	p, err := dpop.NewProof(k.key, http.MethodPost, "https://LOGIN.example.test:443"+PathPrefix+"/login", "", e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := e.send(request{method: http.MethodPost, path: "/login", body: loginBody("alice", alicePassword, "phone-1"), header: http.Header{"DPoP": {p}}})
	wantStatus(t, r, http.StatusOK)
	// A proof for the QR service's issuer is now for another server.
	r = e.send(request{method: http.MethodPost, path: "/login", body: loginBody("alice", alicePassword, "phone-1"),
		header: http.Header{"DPoP": {k.proofAt(http.MethodPost, "/login", "", e.clock.Now())}}})
	wantError(t, r, http.StatusBadRequest, CodeInvalidDPoPProof)
}

func TestBearerTokenUnaffectedByDPoP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.login("alice", alicePassword, "phone-1")
	k := newPhoneKey(t)
	// A DPoP header next to a bearer token is not looked at.
	r := e.send(request{method: http.MethodGet, path: "/devices", auth: s,
		header: http.Header{"DPoP": {"anything"}}})
	wantStatus(t, r, http.StatusOK)
	// An unbound token cannot be sent as DPoP.
	r = e.send(request{method: http.MethodGet, path: "/devices", auth: s,
		header: dpopHeaders(s, k.proofAt(http.MethodGet, "/devices", s.Token, e.clock.Now()))})
	wantError(t, r, http.StatusUnauthorized, CodeUnauthorized)
	wantChallenge(t, r, "invalid_token")
	// The plain 401 offers both schemes.
	r = e.send(request{method: http.MethodGet, path: "/devices"})
	wantError(t, r, http.StatusUnauthorized, CodeUnauthorized)
	if got := r.header.Values("WWW-Authenticate"); len(got) != 2 || got[0] != authRealm || !strings.HasPrefix(got[1], "DPoP ") {
		t.Errorf("WWW-Authenticate %q, want the Bearer and the DPoP challenges", got)
	}
}
