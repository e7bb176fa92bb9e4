package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// config is what the site needs to know; validate checks it and fills redirectURL.
type config struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	Addr         string // only main uses it
	RedirectURL  string

	redirectURL *url.URL
}

func (c *config) validate() error {
	var errs []error
	if u, err := url.Parse(c.Issuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("--issuer %q is not an http(s) URL", c.Issuer))
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("--client-id is empty"))
	}
	if c.ClientSecret == "" {
		errs = append(errs, errors.New("the client secret is missing: pass --client-secret or set RP_CLIENT_SECRET (qrid serve --dev prints the demo client's secret)"))
	}
	u, err := url.Parse(c.RedirectURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" || u.RawQuery != "" {
		errs = append(errs, fmt.Errorf("--redirect-url %q is not an absolute http(s) URL without query or fragment", c.RedirectURL))
	} else {
		c.redirectURL = u
	}
	return errors.Join(errs...)
}

// homeURL is the site's home page under the redirect URL's host: where qrid sends
// the browser back after logout (the demo client's post_logout_redirect_uri).
func homeURL(redirect *url.URL) string {
	return (&url.URL{Scheme: redirect.Scheme, Host: redirect.Host, Path: "/"}).String()
}

const (
	// flowTTL is how long a started sign-in (its state, nonce and verifier cookies)
	// stays valid: enough time to scan a QR code and confirm on the phone.
	flowTTL = 10 * time.Minute
	// sessionTTL is how long a signed-in session lasts on this site.
	sessionTTL = 8 * time.Hour
	// providerTimeout bounds each call to qrid (discovery, JWKS, token exchange).
	providerTimeout = 10 * time.Second

	cookieState        = "rp_state"
	cookieNonce        = "rp_nonce"
	cookieVerifier     = "rp_verifier"
	cookieSession      = "rp_session"
	cookieLogoutState  = "rp_logout_state"
	maxSessionsInStore = 10000 // above this, expired sessions are swept at sign-in
)

// session is a signed-in browser, kept in server memory only.
type session struct {
	rawIDToken string
	claims     map[string]any
	expires    time.Time
}

// discovered is qrid's configuration as discovery answered it.
type discovered struct {
	provider   *oidc.Provider
	verifier   *oidc.IDTokenVerifier
	oauth2     *oauth2.Config
	endSession string
}

type server struct {
	cfg    config
	home   string
	secure bool // cookies get Secure when the site is served over https
	client *http.Client
	pages  map[string]*template.Template
	mux    *http.ServeMux

	discoverMu sync.Mutex
	disc       *discovered

	sessionsMu sync.Mutex
	sessions   map[string]*session
}

// newServer validates cfg and returns the site's handler. It does not contact qrid:
// discovery happens on the first sign-in.
func newServer(cfg config) (http.Handler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	s := &server{
		cfg:      cfg,
		home:     homeURL(cfg.redirectURL),
		secure:   cfg.redirectURL.Scheme == "https",
		client:   &http.Client{Timeout: providerTimeout},
		pages:    pages,
		mux:      http.NewServeMux(),
		sessions: make(map[string]*session),
	}
	s.mux.HandleFunc("GET /{$}", s.canonicalHost(s.handleHome))
	s.mux.HandleFunc("GET /login", s.canonicalHost(s.handleLogin))
	s.mux.HandleFunc("GET "+cfg.redirectURL.Path, s.handleCallback)
	s.mux.HandleFunc("POST /logout", s.handleLogout)
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	return s, nil
}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{}
	out := make(map[string]*template.Template)
	for _, name := range []string{"home.html", "error.html"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name)
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	s.mux.ServeHTTP(w, r)
}

// canonicalHost sends a browser that reached the site under another host name than
// the redirect URL's to that host, so the cookies set at /login come back to
// /callback.
func (s *server) canonicalHost(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Host != s.cfg.redirectURL.Host {
			u := *s.cfg.redirectURL
			u.Path, u.RawQuery = r.URL.Path, r.URL.RawQuery
			http.Redirect(w, r, u.String(), http.StatusFound)
			return
		}
		next(w, r)
	}
}

// discover fetches qrid's discovery document once; a failure is not remembered, so
// the next request tries again.
func (s *server) discover(ctx context.Context) (*discovered, error) {
	s.discoverMu.Lock()
	defer s.discoverMu.Unlock()
	if s.disc != nil {
		return s.disc, nil
	}
	p, err := oidc.NewProvider(s.clientContext(ctx), s.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	var extra struct {
		EndSessionEndpoint string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&extra); err != nil {
		return nil, err
	}
	s.disc = &discovered{
		provider: p,
		verifier: p.Verifier(&oidc.Config{ClientID: s.cfg.ClientID}),
		oauth2: &oauth2.Config{
			ClientID:     s.cfg.ClientID,
			ClientSecret: s.cfg.ClientSecret,
			Endpoint:     p.Endpoint(),
			RedirectURL:  s.cfg.RedirectURL,
			Scopes:       []string{oidc.ScopeOpenID, "profile", "email"},
		},
		endSession: extra.EndSessionEndpoint,
	}
	return s.disc, nil
}

// clientContext makes go-oidc and x/oauth2 use the site's HTTP client, which has a
// timeout, for their calls to qrid.
func (s *server) clientContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, s.client)
}

func (s *server) handleHome(w http.ResponseWriter, r *http.Request) {
	data := homeData{}
	if sess := s.currentSession(r); sess != nil {
		data.SignedIn = true
		data.Name = displayName(sess.claims)
		data.Claims = claimRows(sess.claims)
	}
	if state := r.URL.Query().Get("state"); state != "" {
		// Back from qrid's end_session_endpoint.
		if c, err := r.Cookie(cookieLogoutState); err == nil && c.Value == state {
			data.SignedOut = true
		}
		s.clearCookie(w, cookieLogoutState)
	}
	s.render(w, http.StatusOK, "home.html", data)
}

type homeData struct {
	SignedIn  bool
	SignedOut bool
	Name      string
	Claims    []claimRow
}

func (s *server) handleLogin(w http.ResponseWriter, r *http.Request) {
	d, err := s.discover(r.Context())
	if err != nil {
		slog.Warn("discovery failed", "issuer", s.cfg.Issuer, "err", err)
		s.renderError(w, http.StatusBadGateway, errorData{
			Title:   "qrid is not reachable",
			Message: fmt.Sprintf("This site could not read qrid's configuration at %s/.well-known/openid-configuration: %v", s.cfg.Issuer, err),
			Hint:    "Is qrid running? Start it with: go run ./cmd/qrid serve --dev",
		})
		return
	}
	state, nonce, verifier := randomValue(), randomValue(), oauth2.GenerateVerifier()
	s.setFlowCookie(w, cookieState, state)
	s.setFlowCookie(w, cookieNonce, nonce)
	s.setFlowCookie(w, cookieVerifier, verifier)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, d.oauth2.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), http.StatusFound)
}

func (s *server) handleCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state, stateErr := r.Cookie(cookieState)
	nonce, nonceErr := r.Cookie(cookieNonce)
	verifier, verifierErr := r.Cookie(cookieVerifier)
	// The flow's cookies are used once, whatever happens next.
	s.clearCookie(w, cookieState)
	s.clearCookie(w, cookieNonce)
	s.clearCookie(w, cookieVerifier)

	if stateErr != nil || nonceErr != nil || verifierErr != nil || q.Get("state") == "" || q.Get("state") != state.Value {
		s.renderError(w, http.StatusBadRequest, errorData{
			Title:   "Sign-in not recognised",
			Message: "This answer from qrid does not belong to a sign-in started here in this browser (the state does not match), or the sign-in took longer than 10 minutes.",
			Hint:    "Start again with the Log in with qrid button.",
		})
		return
	}
	if e := q.Get("error"); e != "" {
		title := "Sign-in failed"
		if e == "access_denied" {
			title = "Sign-in was refused"
		}
		s.renderError(w, http.StatusBadRequest, errorData{
			Title:       title,
			Code:        e,
			Description: q.Get("error_description"),
			Hint:        "You are not signed in. Try again with the Log in with qrid button.",
		})
		return
	}
	code := q.Get("code")
	if code == "" {
		s.renderError(w, http.StatusBadRequest, errorData{Title: "Sign-in failed", Message: "qrid's answer has neither a code nor an error."})
		return
	}
	d, err := s.discover(r.Context())
	if err != nil {
		s.renderError(w, http.StatusBadGateway, errorData{Title: "qrid is not reachable", Message: err.Error()})
		return
	}
	ctx := s.clientContext(r.Context())
	tok, err := d.oauth2.Exchange(ctx, code, oauth2.VerifierOption(verifier.Value))
	if err != nil {
		slog.Warn("token exchange failed", "err", err)
		data := errorData{Title: "Sign-in failed", Message: "qrid did not exchange the authorization code for tokens."}
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			data.Code, data.Description = re.ErrorCode, re.ErrorDescription
		} else {
			data.Description = err.Error()
		}
		s.renderError(w, http.StatusBadGateway, data)
		return
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		s.renderError(w, http.StatusBadGateway, errorData{Title: "Sign-in failed", Message: "qrid's token response has no ID token."})
		return
	}
	idt, err := d.verifier.Verify(ctx, raw)
	if err == nil && idt.Nonce != nonce.Value {
		err = errors.New("the nonce does not match the one this site sent")
	}
	if err == nil && idt.AccessTokenHash != "" {
		err = idt.VerifyAccessToken(tok.AccessToken)
	}
	if err != nil {
		slog.Warn("ID token rejected", "err", err)
		s.renderError(w, http.StatusBadGateway, errorData{Title: "Sign-in failed", Message: "The ID token is not valid: " + err.Error()})
		return
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		s.renderError(w, http.StatusBadGateway, errorData{Title: "Sign-in failed", Message: "The ID token's claims could not be read."})
		return
	}
	// A new session ID at every sign-in (no session fixation).
	if old, err := r.Cookie(cookieSession); err == nil {
		s.deleteSession(old.Value)
	}
	id := s.newSession(&session{rawIDToken: raw, claims: claims, expires: time.Now().Add(sessionTTL)})
	http.SetCookie(w, &http.Cookie{Name: cookieSession, Value: id, Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// handleLogout ends the session here and, when qrid announces an
// end_session_endpoint, at qrid too (OpenID Connect RP-Initiated Logout 1.0 §2).
func (s *server) handleLogout(w http.ResponseWriter, r *http.Request) {
	sess := s.currentSession(r)
	if c, err := r.Cookie(cookieSession); err == nil {
		s.deleteSession(c.Value)
	}
	s.clearCookie(w, cookieSession)
	if sess == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	d, err := s.discover(r.Context())
	if err != nil || d.endSession == "" {
		// Signed out here; qrid's own session stays.
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	u, err := url.Parse(d.endSession)
	if err != nil {
		s.renderError(w, http.StatusBadGateway, errorData{Title: "Signed out of this site only", Message: "qrid's end_session_endpoint is not a URL."})
		return
	}
	state := randomValue()
	s.setFlowCookie(w, cookieLogoutState, state)
	q := u.Query()
	q.Set("id_token_hint", sess.rawIDToken)
	q.Set("client_id", s.cfg.ClientID)
	q.Set("post_logout_redirect_uri", s.home)
	q.Set("state", state)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func (s *server) currentSession(r *http.Request) *session {
	c, err := r.Cookie(cookieSession)
	if err != nil {
		return nil
	}
	s.sessionsMu.Lock()
	defer s.sessionsMu.Unlock()
	sess, ok := s.sessions[c.Value]
	if !ok {
		return nil
	}
	if time.Now().After(sess.expires) {
		delete(s.sessions, c.Value)
		return nil
	}
	return sess
}

func (s *server) newSession(sess *session) string {
	id := rand.Text() + rand.Text() // 2×128 bits
	s.sessionsMu.Lock()
	defer s.sessionsMu.Unlock()
	if len(s.sessions) >= maxSessionsInStore {
		now := time.Now()
		for k, v := range s.sessions {
			if now.After(v.expires) {
				delete(s.sessions, k)
			}
		}
	}
	s.sessions[id] = sess
	return id
}

func (s *server) deleteSession(id string) {
	s.sessionsMu.Lock()
	defer s.sessionsMu.Unlock()
	delete(s.sessions, id)
}

func (s *server) setFlowCookie(w http.ResponseWriter, name, value string) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: int(flowTTL / time.Second),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (s *server) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// randomValue is 128 random bits as text, for state and nonce.
func randomValue() string { return rand.Text() }

type errorData struct {
	Title       string
	Message     string
	Code        string // an OAuth error code, e.g. access_denied
	Description string
	Hint        string
}

func (s *server) renderError(w http.ResponseWriter, status int, data errorData) {
	s.render(w, status, "error.html", data)
}

// render executes a page into a buffer first, so a template failure is a clean 500.
func (s *server) render(w http.ResponseWriter, status int, page string, data any) {
	var buf bytes.Buffer
	if err := s.pages[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		slog.Error("render page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
