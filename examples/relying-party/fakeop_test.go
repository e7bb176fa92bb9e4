package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// fakeOP is a minimal OpenID provider for the tests: discovery, JWKS, an authorize
// endpoint that approves (or refuses) at once, a token endpoint that checks the
// client secret and the PKCE verifier and signs a real ES256 ID token, and an
// end_session endpoint.
type fakeOP struct {
	t      *testing.T
	srv    *httptest.Server
	key    *ecdsa.PrivateKey
	secret string
	now    time.Time

	mu         sync.Mutex
	down       bool // discovery answers 503, as while qrid starts
	deny       bool // the authorize endpoint answers access_denied
	badNonce   bool // the ID token carries another nonce than the request's
	authorize  url.Values
	logout     url.Values
	codes      map[string]url.Values // code → the authorize request
	tokenCalls int
	idToken    string // the last ID token issued
}

const (
	fakeClientID = "demo"
	fakeSub      = "acct_7f3a"
)

func newFakeOP(t *testing.T) *fakeOP {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	op := &fakeOP{t: t, key: key, secret: "s3cret", codes: map[string]url.Values{}, now: time.Now().Truncate(time.Second)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", op.discovery)
	mux.HandleFunc("GET /jwks", op.jwks)
	mux.HandleFunc("GET /authorize", op.authorizeEndpoint)
	mux.HandleFunc("POST /token", op.token)
	mux.HandleFunc("GET /logout", op.endSession)
	op.srv = httptest.NewServer(mux)
	t.Cleanup(op.srv.Close)
	return op
}

func (op *fakeOP) discovery(w http.ResponseWriter, _ *http.Request) {
	op.mu.Lock()
	down := op.down
	op.mu.Unlock()
	if down {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	iss := op.srv.URL
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + "/authorize",
		"token_endpoint":                        iss + "/token",
		"jwks_uri":                              iss + "/jwks",
		"end_session_endpoint":                  iss + "/logout",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
}

func (op *fakeOP) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &op.key.PublicKey, KeyID: "k1", Algorithm: string(jose.ES256), Use: "sig"},
	}})
}

func (op *fakeOP) authorizeEndpoint(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	op.mu.Lock()
	defer op.mu.Unlock()
	op.authorize = q
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || q.Get("client_id") != fakeClientID {
		http.Error(w, "bad client or redirect_uri", http.StatusBadRequest)
		return
	}
	v := url.Values{"state": {q.Get("state")}}
	if op.deny {
		v.Set("error", "access_denied")
		v.Set("error_description", "The person refused the sign-in on the phone.")
	} else {
		code := rand.Text()
		op.codes[code] = q
		v.Set("code", code)
	}
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (op *fakeOP) token(w http.ResponseWriter, r *http.Request) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.tokenCalls++
	id, secret, ok := r.BasicAuth()
	if !ok || id != fakeClientID || secret != op.secret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "authorization_code" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	code := r.PostForm.Get("code")
	req, ok := op.codes[code]
	delete(op.codes, code)
	if !ok || r.PostForm.Get("redirect_uri") != req.Get("redirect_uri") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if req.Get("code_challenge_method") != "S256" || base64.RawURLEncoding.EncodeToString(sum[:]) != req.Get("code_challenge") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "PKCE verification failed"})
		return
	}
	nonce := req.Get("nonce")
	if op.badNonce {
		nonce = "not-the-nonce-that-was-sent"
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: op.key, KeyID: "k1"}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		op.t.Error(err)
		return
	}
	raw, err := jwt.Signed(signer).Claims(map[string]any{
		"iss":            op.srv.URL,
		"sub":            fakeSub,
		"aud":            fakeClientID,
		"iat":            op.now.Unix(),
		"exp":            op.now.Add(time.Hour).Unix(),
		"auth_time":      op.now.Unix(),
		"nonce":          nonce,
		"name":           "Ada Lovelace",
		"email":          "ada@example.com",
		"email_verified": true,
		"amr":            []string{"qr", "hwk"},
	}).Serialize()
	if err != nil {
		op.t.Error(err)
		return
	}
	op.idToken = raw
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": rand.Text(),
		"token_type":   "Bearer",
		"expires_in":   3600,
		"id_token":     raw,
	})
}

func (op *fakeOP) endSession(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	op.mu.Lock()
	op.logout = q
	op.mu.Unlock()
	back, err := url.Parse(q.Get("post_logout_redirect_uri"))
	if err != nil {
		http.Error(w, "bad post_logout_redirect_uri", http.StatusBadRequest)
		return
	}
	back.RawQuery = url.Values{"state": {q.Get("state")}}.Encode()
	http.Redirect(w, r, back.String(), http.StatusSeeOther)
}

// tokenRequests is how many times the token endpoint was called.
func (op *fakeOP) tokenRequests() int {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.tokenCalls
}

// lastIDToken is the last ID token the token endpoint issued.
func (op *fakeOP) lastIDToken() string {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.idToken
}

// set changes the fake's behaviour under its lock.
func (op *fakeOP) set(f func(op *fakeOP)) {
	op.mu.Lock()
	defer op.mu.Unlock()
	f(op)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
