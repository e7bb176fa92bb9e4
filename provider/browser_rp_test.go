package provider_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/qrid/qrid/provider/admin"
)

// testRP is a third-party website that uses qrid through go-oidc and x/oauth2 only,
// as any relying party would: a page with a "Log in with qrid" button, /login
// (authorization code with PKCE S256, state and nonce), /callback (exchange and ID
// token verification) and a page showing who signed in. The browser tests drive a
// real browser through it.
type testRP struct {
	srv      *httptest.Server
	issuer   string
	client   admin.ClientInfo
	conf     *oauth2.Config
	verifier *oidc.IDTokenVerifier
	http     *http.Client

	mu    sync.Mutex
	flows map[string]rpFlow // by state
}

// rpFlow is what the RP keeps between /login and /callback.
type rpFlow struct{ verifier, nonce string }

// rpClaims are the ID token claims the RP shows (and the tests read back).
type rpClaims struct {
	Subject  string   `json:"sub"`
	AMR      []string `json:"amr"`
	AuthTime int64    `json:"auth_time"`
	Nonce    string   `json:"nonce"`
	Email    string   `json:"email"`
}

// rpStateCookie binds a sign-in to the browser that started it. The RP and qrid
// share the host 127.0.0.1 (cookies ignore ports), so the name must not be qrid's.
const rpStateCookie = "rp_state"

// newTestRP starts the RP and registers it with q's qrid as a third-party client
// (consent page and number matching on).
func newTestRP(t *testing.T, q *qrEnv) *testRP {
	t.Helper()
	rp := &testRP{issuer: q.issuer, http: q.srv.Client(), flows: map[string]rpFlow{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", rp.home)
	mux.HandleFunc("GET /login", rp.login)
	mux.HandleFunc("GET /callback", rp.callback)
	rp.srv = httptest.NewServer(mux)
	t.Cleanup(rp.srv.Close)

	var err error
	rp.client, err = q.p.Admin().CreateClient(context.Background(), admin.ClientMetadata{
		ClientName:             "Example Shop",
		RedirectURIs:           []string{rp.srv.URL + "/callback"},
		PostLogoutRedirectURIs: []string{rp.srv.URL + "/"},
		ClientURI:              rp.srv.URL,
	})
	if err != nil {
		t.Fatalf("register the RP: %v", err)
	}
	ctx := oidc.ClientContext(context.Background(), rp.http)
	prov, err := oidc.NewProvider(ctx, q.issuer)
	if err != nil {
		t.Fatalf("RP discovery: %v", err)
	}
	rp.verifier = prov.Verifier(&oidc.Config{ClientID: rp.client.ClientID})
	rp.conf = &oauth2.Config{
		ClientID:     rp.client.ClientID,
		ClientSecret: rp.client.ClientSecret,
		Endpoint:     prov.Endpoint(),
		RedirectURL:  rp.srv.URL + "/callback",
		Scopes:       []string{oidc.ScopeOpenID, "profile", "email"},
	}
	return rp
}

var rpPage = template.Must(template.New("rp").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Example Shop</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:2rem;max-width:40rem}button,a.button{font:inherit;padding:.6rem 1rem}pre{white-space:pre-wrap;overflow-wrap:anywhere}</style></head>
<body>
<h1>Example Shop</h1>
{{if .Error}}<p id="rp-error" role="alert">{{.Error}}</p>{{end}}
{{if .Subject}}
<p id="signed-in">Signed in as <strong id="rp-subject">{{.Subject}}</strong></p>
<pre id="rp-claims">{{.Claims}}</pre>
<p><a id="rp-logout" class="button" href="{{.LogoutURL}}">Log out</a></p>
{{else}}
<form action="/login" method="get"><button id="rp-login" type="submit">Log in with qrid</button></form>
{{end}}
</body>
</html>`))

type rpView struct {
	Error, Subject, Claims, LogoutURL string
}

func (rp *testRP) render(w http.ResponseWriter, status int, v rpView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = rpPage.Execute(w, v)
}

func (rp *testRP) home(w http.ResponseWriter, r *http.Request) {
	rp.render(w, http.StatusOK, rpView{})
}

func (rp *testRP) login(w http.ResponseWriter, r *http.Request) {
	state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
	rp.mu.Lock()
	rp.flows[state] = rpFlow{verifier: verifier, nonce: nonce}
	rp.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: rpStateCookie, Value: state, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, rp.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), http.StatusFound)
}

func (rp *testRP) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		rp.render(w, http.StatusBadRequest, rpView{Error: "qrid answered " + e + ": " + q.Get("error_description")})
		return
	}
	c, err := r.Cookie(rpStateCookie)
	if err != nil || c.Value == "" || c.Value != q.Get("state") {
		rp.render(w, http.StatusBadRequest, rpView{Error: "the state does not match this browser's sign-in"})
		return
	}
	rp.mu.Lock()
	flow, ok := rp.flows[c.Value]
	delete(rp.flows, c.Value)
	rp.mu.Unlock()
	if !ok {
		rp.render(w, http.StatusBadRequest, rpView{Error: "unknown or used state"})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: rpStateCookie, Value: "", Path: "/", MaxAge: -1})
	ctx := oidc.ClientContext(r.Context(), rp.http)
	tok, err := rp.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(flow.verifier))
	if err != nil {
		rp.render(w, http.StatusBadGateway, rpView{Error: "code exchange: " + err.Error()})
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(ctx, raw)
	if err != nil {
		rp.render(w, http.StatusBadGateway, rpView{Error: "ID token: " + err.Error()})
		return
	}
	if idt.Nonce != flow.nonce {
		rp.render(w, http.StatusBadGateway, rpView{Error: "the ID token's nonce is not this sign-in's"})
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		rp.render(w, http.StatusBadGateway, rpView{Error: "ID token claims: " + err.Error()})
		return
	}
	pretty, _ := json.MarshalIndent(claims, "", "  ")
	logout := rp.issuer + "/oauth2/logout?" + url.Values{
		"client_id":                {rp.client.ClientID},
		"post_logout_redirect_uri": {rp.srv.URL + "/"},
		"state":                    {randomToken()},
	}.Encode()
	rp.render(w, http.StatusOK, rpView{Subject: idt.Subject, Claims: string(pretty), LogoutURL: logout})
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
