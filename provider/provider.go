// Package provider is qrid's HTTP surface: the fosite composition, the public router
// (discovery, JWKS, authorize, token, userinfo, introspection, revocation, logout, the
// login and consent pages, health and metrics) and the wiring of the admin listener.
//
// Decisions worth knowing:
//   - The login and consent pages carry the original authorization request in a
//     signed, time-stamped envelope (authz) instead of a server-side login challenge;
//     the request is parsed again by fosite when the form comes back, so nothing in it
//     can be changed, and its timestamp is the request time that prompt=login and
//     max_age are checked against (OIDC Core §3.1.2.1).
//   - The SSO session is a random cookie value whose keyed digest is the stored
//     BrowserSession ID; the sid claim is a second digest of it, so neither the
//     database nor an ID token reveals the cookie.
//   - Forms are protected by a CSRF token derived (HMAC) from a random per-browser
//     cookie; SameSite=Lax cookies add a second line of defence.
//   - ID tokens are ES256 unless the client registered RS256; the key's kid is in the
//     header and id_token_hint is verified against every published key.
package provider

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/ory/fosite"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/qrid/qrid/provider/admin"
	"github.com/qrid/qrid/provider/digest"
	"github.com/qrid/qrid/provider/fositestore"
	"github.com/qrid/qrid/provider/keys"
	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/templates"
)

// Config is what a provider is built from. cmd/qrid fills it from flags.
type Config struct {
	// Issuer is the exact issuer URL; https unless Dev.
	Issuer string
	// Dev allows http redirect URIs and issuer, and mounts the demo pages.
	Dev bool
	// Secret is the system secret (32+ bytes): key of every digest and of the
	// encryption of signing keys at rest.
	Secret []byte
	// AdminToken is the bearer token of the admin API.
	AdminToken string
	// QRTTL and QRInterval configure QR sessions (the QR grant).
	QRTTL      time.Duration
	QRInterval time.Duration
	Logger     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// SessionLifetime is how long an SSO session lasts.
const SessionLifetime = 24 * time.Hour

// Provider serves qrid's public and admin listeners.
type Provider struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	store    storage.Storage
	keys     *keys.Manager
	oauth2   fosite.OAuth2Provider
	admin    *admin.Service
	pages    map[string]*template.Template
	metrics  *metrics
	secure   bool // cookies get the Secure attribute (https issuer)
	issuer   *url.URL
	digests  digests
	public   http.Handler
	adminAPI http.Handler
}

// digests are the keyed digests the provider computes, one per purpose.
type digests struct {
	clientSecret *digest.Keyed
	session      *digest.Keyed
	sid          *digest.Keyed
	csrf         *digest.Keyed
	authz        *digest.Keyed
}

// New builds a provider on store and makes sure signing keys exist.
func New(ctx context.Context, cfg Config, store storage.Storage) (*Provider, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	issuer, _ := url.Parse(cfg.Issuer)
	p := &Provider{
		cfg:    cfg,
		log:    cfg.Logger,
		now:    cfg.Now,
		store:  store,
		secure: issuer.Scheme == "https",
		issuer: issuer,
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.now == nil {
		p.now = time.Now
	}
	var err error
	for _, d := range []struct {
		dst     **digest.Keyed
		purpose string
	}{
		{&p.digests.clientSecret, "client-secret"},
		{&p.digests.session, "browser-session"},
		{&p.digests.sid, "sid"},
		{&p.digests.csrf, "csrf"},
		{&p.digests.authz, "authz"},
	} {
		if *d.dst, err = digest.New(cfg.Secret, d.purpose); err != nil {
			return nil, err
		}
	}
	p.keys, err = keys.NewManager(store, cfg.Secret, keys.Options{Now: p.now, RetainFor: keyRetention, Logger: p.log})
	if err != nil {
		return nil, err
	}
	if err := p.keys.Init(ctx); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	fstore := fositestore.New(store, func() fosite.Session { return newSession() }, refreshTokenLifespan)
	p.oauth2, err = composeOAuth2(cfg, fstore, &keySigner{keys: p.keys}, fositestore.SecretHasher{Digest: p.digests.clientSecret})
	if err != nil {
		return nil, err
	}
	p.pages, err = templates.Parse(template.FuncMap{})
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	p.metrics = newMetrics(prometheus.NewRegistry())
	p.admin = &admin.Service{Store: store, Keys: p.keys, ClientSecrets: p.digests.clientSecret, Dev: cfg.Dev, Now: p.now}
	p.public = p.routes()
	p.adminAPI = admin.NewHandler(p.admin, cfg.AdminToken, p.log.With("listener", "admin"))
	return p, nil
}

func (cfg Config) validate() error {
	var problems []string
	u, err := url.Parse(cfg.Issuer)
	switch {
	case cfg.Issuer == "" || err != nil || !u.IsAbs() || u.Host == "":
		problems = append(problems, "the issuer must be an absolute URL")
	case u.RawQuery != "" || u.Fragment != "":
		problems = append(problems, "the issuer must not have a query or fragment")
	case strings.HasSuffix(cfg.Issuer, "/"):
		problems = append(problems, "the issuer must not end with a slash")
	case u.Scheme != "https" && !(cfg.Dev && u.Scheme == "http"):
		problems = append(problems, "the issuer must use https (http is allowed only with --dev)")
	}
	if len(cfg.Secret) < digest.MinSecretLen {
		problems = append(problems, "the system secret must be at least 32 bytes")
	}
	if cfg.AdminToken == "" {
		problems = append(problems, "an admin token is required")
	}
	if len(problems) > 0 {
		return errors.New("provider: " + strings.Join(problems, "; "))
	}
	return nil
}

// PublicHandler serves the public listener.
func (p *Provider) PublicHandler() http.Handler { return p.public }

// AdminHandler serves the admin listener (bearer Config.AdminToken).
func (p *Provider) AdminHandler() http.Handler { return p.adminAPI }

// Admin is the admin service, used by `qrid serve --dev` to seed demo data.
func (p *Provider) Admin() *admin.Service { return p.admin }

// Keys returns the signing key manager.
func (p *Provider) Keys() *keys.Manager { return p.keys }

// RunGarbageCollector deletes expired rows every interval until ctx ends.
func (p *Provider) RunGarbageCollector(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			res, err := p.store.GarbageCollect(ctx, p.now())
			if err != nil {
				if ctx.Err() == nil {
					p.log.Error("garbage collection failed", "err", err)
				}
				continue
			}
			if res.TokenSessions+res.BrowserSessions+res.SigningKeys > 0 {
				p.log.Info("garbage collected", "token_sessions", res.TokenSessions,
					"browser_sessions", res.BrowserSessions, "signing_keys", res.SigningKeys)
			}
		}
	}
}

func (p *Provider) routes() http.Handler {
	// Paths are matched as sent: no redirects to cleaned paths.
	r := mux.NewRouter().SkipClean(true)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, "not_found", "No such endpoint.")
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusMethodNotAllowed, "method_not_allowed", "This method is not allowed here.")
	})
	handle := func(path, name string, h http.HandlerFunc, methods ...string) {
		r.Handle(path, p.metrics.instrument(name, h)).Methods(methods...)
	}
	handle("/.well-known/openid-configuration", "discovery", p.discovery, http.MethodGet, http.MethodHead)
	handle("/.well-known/jwks.json", "jwks", p.jwks, http.MethodGet, http.MethodHead)
	handle("/oauth2/auth", "authorize", p.authorize, http.MethodGet)
	handle("/login", "login", p.login, http.MethodPost)
	handle("/consent", "consent", p.consent, http.MethodPost)
	handle("/oauth2/token", "token", p.token, http.MethodPost)
	handle("/oauth2/introspect", "introspect", p.introspect, http.MethodPost)
	handle("/oauth2/revoke", "revoke", p.revoke, http.MethodPost)
	handle("/userinfo", "userinfo", p.userinfo, http.MethodGet, http.MethodPost)
	handle("/oauth2/logout", "logout", p.logout, http.MethodGet, http.MethodPost)
	handle("/healthz", "healthz", p.healthz, http.MethodGet, http.MethodHead)
	handle("/readyz", "readyz", p.readyz, http.MethodGet, http.MethodHead)
	r.Handle("/metrics", p.metrics.handler()).Methods(http.MethodGet)
	r.PathPrefix("/static/").Handler(http.StripPrefix("/static/", staticHandler())).Methods(http.MethodGet, http.MethodHead)
	return p.recoverer(securityHeaders(r))
}
