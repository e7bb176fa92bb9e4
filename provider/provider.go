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
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/ory/fosite"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/qrid/qrid/grants/qr"
	"github.com/qrid/qrid/provider/admin"
	"github.com/qrid/qrid/provider/audit"
	"github.com/qrid/qrid/provider/clientcache"
	"github.com/qrid/qrid/provider/demo"
	"github.com/qrid/qrid/provider/digest"
	"github.com/qrid/qrid/provider/fositestore"
	"github.com/qrid/qrid/provider/keys"
	"github.com/qrid/qrid/provider/mobile"
	"github.com/qrid/qrid/provider/qrweb"
	"github.com/qrid/qrid/provider/ratelimit"
	"github.com/qrid/qrid/provider/storeguard"
	"github.com/qrid/qrid/provider/webapp"
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
	// Demo, when set (with --dev), mounts the newcomers' page /demo for these
	// seeded demo clients.
	Demo *DemoClients
	// NoRateLimits turns off every per-IP, per-account and per-client rate limit,
	// the cap on long-polls and event streams per IP and the cap on pending QR
	// sessions per client. It exists for load tests (qrid bench), which drive
	// thousands of sign-ins a second from one address; never in production.
	NoRateLimits bool
}

// DemoClients names the demo clients `qrid serve --dev` seeds.
type DemoClients struct {
	// WebClientID is the demo website's client and RedirectURI its callback.
	WebClientID string
	RedirectURI string
	// CLIClientID is the demo terminal (device flow) client.
	CLIClientID string
}

// maxHeldPerIP caps the long-polls and event streams one IP address holds at once;
// past it, long-polls answer at once (the client falls back to its interval) and
// event streams are refused with 429 (the page falls back to its long-poll).
const maxHeldPerIP = 100

// SessionLifetime is how long an SSO session lasts.
const SessionLifetime = 24 * time.Hour

// Provider serves qrid's public and admin listeners.
type Provider struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	store    storage.Storage
	clients  *clientcache.Cache // the store's clients, as request paths read them
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
	qr       *qr.Service
	hub      *qr.Hub
	// userCodeLimiter limits user codes typed on /device per IP address (RFC 8628
	// §5.1: the user code is short and must not be brute-forced).
	userCodeLimiter *ratelimit.Limiter
	// webQRLimiter limits the QR sessions login pages start per IP address.
	webQRLimiter *ratelimit.Limiter
	// deviceAuthPerIP and deviceAuthPerClient limit device authorizations (QR
	// sessions started by RFC 8628 clients).
	deviceAuthPerIP     *ratelimit.Limiter
	deviceAuthPerClient *ratelimit.Limiter
	// heldPerIP caps the long-polls and event streams one address holds at once.
	heldPerIP *ratelimit.Concurrency
	// watchers counts the login pages' event streams and status long-polls open now.
	watchers atomic.Int64
	// guard answers 503 while the store is unreachable.
	guard *storeguard.Guard
	// stop ends the background work New started (the QR change listener).
	stop context.CancelFunc
	done chan struct{}
}

// digests are the keyed digests the provider computes, one per purpose.
type digests struct {
	clientSecret *digest.Keyed
	session      *digest.Keyed
	sid          *digest.Keyed
	csrf         *digest.Keyed
	authz        *digest.Keyed
	deviceCode   *digest.Keyed
	userCode     *digest.Keyed
	confirmToken *digest.Keyed
	deviceToken  *digest.Keyed
	qrBinding    *digest.Keyed
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
		{&p.digests.deviceCode, "device-code"},
		{&p.digests.userCode, "user-code"},
		{&p.digests.confirmToken, "confirm-token"},
		{&p.digests.deviceToken, "device-token"},
		{&p.digests.qrBinding, "qr-browser-binding"},
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
	maxPending := 0 // the QR service's default
	if cfg.NoRateLimits {
		// nil limiters allow everything.
		p.log.Warn("rate limits are off: for load tests only, never in production")
		maxPending = -1
	} else {
		p.userCodeLimiter = ratelimit.New(ratelimit.Limit{Every: 6 * time.Second, Burst: 10}, 0)
		p.webQRLimiter = ratelimit.New(ratelimit.Limit{Every: time.Second, Burst: 60}, 0)
		p.deviceAuthPerIP = ratelimit.New(ratelimit.Limit{Every: time.Second, Burst: 60}, 0)
		p.deviceAuthPerClient = ratelimit.New(ratelimit.Limit{Every: time.Millisecond, Burst: 2000}, 0)
		p.heldPerIP = ratelimit.NewConcurrency(maxHeldPerIP)
	}
	p.hub = qr.NewHub()
	auditTrail := audit.NewRecorder(store, audit.Options{Logger: p.log.With("component", "audit"), Now: p.now})
	p.qr, err = qr.NewService(store, p.hub, qr.Config{
		Issuer:        cfg.Issuer,
		TTL:           cfg.QRTTL,
		Interval:      cfg.QRInterval,
		DeviceCodes:   p.digests.deviceCode.String,
		UserCodes:     p.digests.userCode.String,
		ConfirmTokens: p.digests.confirmToken.String,
		Now:           p.now,
		AuditEvent:    auditTrail.QRAuditEvent,

		MaxPendingPerClient: maxPending,
	})
	if err != nil {
		return nil, err
	}
	p.clients = clientcache.New(store, clientcache.Options{Now: p.now})
	fstore := fositestore.New(store, func() fosite.Session { return newSession() }, refreshTokenLifespan)
	fstore.OnRefreshTokenReuse = auditTrail.RefreshTokenReused
	fstore.Clients = p.clients
	p.oauth2, err = composeOAuth2(cfg, fstore, &keySigner{keys: p.keys}, fositestore.SecretHasher{Digest: p.digests.clientSecret},
		qr.Factory(p.qr, fstore, p.qrIDSession))
	if err != nil {
		return nil, err
	}
	p.pages, err = templates.Parse(template.FuncMap{})
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	p.metrics = newMetrics(prometheus.NewRegistry())
	p.metrics.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "qrid_qr_held_polls", Help: "Token long-polls being held right now."},
			func() float64 { return float64(p.qr.HeldPolls()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "qrid_qr_hub_sessions", Help: "QR sessions this node's hub tracks."},
			func() float64 { return float64(p.hub.Len()) }),
	)
	if counted, ok := store.(storage.Counted); ok {
		p.metrics.registry.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "qrid_db_statements_total",
				Help: "Statements sent to PostgreSQL (roughly the round trips)."},
				func() float64 { return float64(counted.Counts().Statements) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "qrid_db_transactions_total",
				Help: "Transactions PostgreSQL ran for this node, reads outside a transaction block included."},
				func() float64 { return float64(counted.Counts().Transactions) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "qrid_db_write_transactions_total",
				Help: "Transactions that may write: blocks, and statements outside blocks that are not a plain SELECT."},
				func() float64 { return float64(counted.Counts().Writes) }),
		)
	}
	p.guard = storeguard.New(store, storeguard.Options{Logger: p.log})
	p.metrics.registry.MustRegister(p.guard.Collectors()...)
	p.metrics.registry.MustRegister(p.clients.Collectors()...)
	p.admin = &admin.Service{Store: store, Keys: p.keys, ClientSecrets: p.digests.clientSecret, Dev: cfg.Dev, Now: p.now,
		Audit: auditTrail, OnClientChanged: p.clients.Invalidate}
	p.public = p.routes()
	p.adminAPI = admin.NewHandler(p.admin, cfg.AdminToken, p.log.With("listener", "admin"))
	if err := p.startQRListener(); err != nil {
		return nil, err
	}
	p.guard.Start(context.Background())
	return p, nil
}

// startQRListener feeds the store's QR change notifications (every node's changes)
// into the hub, and waits until it listens so that no change made after New returns
// is missed.
func (p *Provider) startQRListener() error {
	ctx, cancel := context.WithCancel(context.Background())
	p.stop, p.done = cancel, make(chan struct{})
	notifier, ok := p.store.(storage.QRNotifier)
	if !ok {
		close(p.done)
		return nil
	}
	ready := make(chan struct{})
	var once sync.Once
	go func() {
		defer close(p.done)
		err := notifier.ListenQR(ctx, func() { once.Do(func() { close(ready) }) }, p.hub.Reset, p.hub.Announce)
		if err != nil && ctx.Err() == nil {
			p.log.Error("QR change listener stopped", "err", err)
		}
	}()
	select {
	case <-ready:
		return nil
	case <-p.done:
		return errors.New("provider: the QR change listener could not start")
	case <-time.After(30 * time.Second):
		cancel()
		return errors.New("provider: the QR change listener did not start within 30 seconds")
	}
}

// HeldPolls is the number of token long-polls being held right now.
func (p *Provider) HeldPolls() int64 { return p.qr.HeldPolls() }

// Watchers is the number of login-page event streams and status long-polls open
// right now.
func (p *Provider) Watchers() int64 { return p.watchers.Load() }

// RecheckQR makes every held poll and login-page stream look at its session again
// at once, as after a jump of the clock (they otherwise notice expiry on their own
// timers).
func (p *Provider) RecheckQR() { p.hub.Reset() }

// Drain makes held long-polls answer at once; call it when the server starts
// shutting down (http.Server.RegisterOnShutdown).
func (p *Provider) Drain() { p.qr.Drain() }

// Close stops the provider's background work. It does not close the store.
func (p *Provider) Close() {
	p.stop()
	<-p.done
	p.guard.Close()
	p.admin.Audit.Wait() // the last events reach the store before it is closed
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
			p.hub.Sweep(p.now().Add(-time.Minute))
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
	handle("/login/qr/{id}/events", "login_qr_events", p.qrEvents, http.MethodGet)
	handle("/login/qr/{id}/status", "login_qr_status", p.qrStatus, http.MethodGet)
	handle("/login/qr/renew", "login_qr_renew", p.qrRenew, http.MethodPost)
	handle("/login/qr/complete", "login_qr_complete", p.qrComplete, http.MethodPost)
	handle("/oauth2/token", "token", p.token, http.MethodPost)
	handle("/oauth2/device/auth", "device_authorization", p.deviceAuthorization, http.MethodPost)
	handle("/device", "device_page", p.devicePage, http.MethodGet)
	handle("/device", "device_submit", p.deviceSubmit, http.MethodPost)
	handle("/device/confirm", "device_confirm", p.deviceConfirm, http.MethodPost)
	handle("/oauth2/introspect", "introspect", p.introspect, http.MethodPost)
	handle("/oauth2/revoke", "revoke", p.revoke, http.MethodPost)
	handle("/userinfo", "userinfo", p.userinfo, http.MethodGet, http.MethodPost)
	handle("/oauth2/logout", "logout", p.logout, http.MethodGet, http.MethodPost)
	handle("/healthz", "healthz", p.healthz, http.MethodGet, http.MethodHead)
	handle("/readyz", "readyz", p.readyz, http.MethodGet, http.MethodHead)
	r.Handle("/metrics", p.metrics.handler()).Methods(http.MethodGet)
	if d := p.cfg.Demo; d != nil {
		(&demo.Handler{Issuer: p.cfg.Issuer, ClientID: d.WebClientID, RedirectURI: d.RedirectURI, CLIClientID: d.CLIClientID, Logger: p.log}).Mount(r)
	}
	(&webapp.Handler{Logger: p.log, Instrument: p.metrics.instrument}).Mount(r)
	(&qrweb.Handler{QR: p.qr, Issuer: p.cfg.Issuer, Now: p.now, Logger: p.log, Instrument: p.metrics.instrument}).Mount(r)
	(&mobile.Handler{
		Issuer: p.cfg.Issuer,
		Store:  p.store, Clients: p.clients, QR: p.qr, DeviceTokens: p.digests.deviceToken, Now: p.now,
		Logger: p.log.With("api", "mobile"), Audit: p.admin.Audit,
		NoRateLimits: p.cfg.NoRateLimits,
	}).Mount(r)
	r.PathPrefix("/static/").Handler(http.StripPrefix("/static/", staticHandler())).Methods(http.MethodGet, http.MethodHead)
	return p.recoverer(securityHeaders(p.guard.Middleware(r)))
}
