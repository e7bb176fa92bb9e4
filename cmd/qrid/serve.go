package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/qrid/qrid/provider"
	"github.com/qrid/qrid/provider/digest"
)

const (
	// shutdownGrace is how long in-flight requests get to finish on SIGINT/SIGTERM.
	shutdownGrace = 20 * time.Second
	// gcEvery is the period of the garbage collection of expired rows.
	gcEvery = time.Minute
)

// serveConfig is the configuration of `qrid serve`.
type serveConfig struct {
	issuer      string
	addr        string
	adminAddr   string
	adminToken  string
	databaseURL string
	secret      string
	dev         bool
	qrTTL       time.Duration
	qrInterval  time.Duration
	noMigrate   bool
	rateLimits  bool
	logLevel    string
	logFormat   string
}

func (a *app) newServeCmd() *cobra.Command {
	var cfg serveConfig
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the provider (public and admin listeners)",
		Long: "Run the provider: the public listener (--addr) and the admin listener (--admin-addr).\n" +
			"Every flag can also be set as QRID_<FLAG> in the environment; flags win.\n" +
			"SIGINT or SIGTERM stops accepting connections and lets requests finish (20s at most).",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serve(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.issuer, "issuer", "http://localhost:8080", "exact issuer URL (https required unless --dev)")
	f.StringVar(&cfg.addr, "addr", ":8080", "address of the public listener")
	f.StringVar(&cfg.adminAddr, "admin-addr", "127.0.0.1:8081", "address of the admin listener (never the public one)")
	f.StringVar(&cfg.adminToken, "admin-token", "", "bearer token of the admin API (random and printed with --dev)")
	f.StringVar(&cfg.databaseURL, "database-url", "", "PostgreSQL URL (empty: in-memory store)")
	f.StringVar(&cfg.secret, "secret", "", "system secret, 32 bytes or more, used as given (random with --dev)")
	f.BoolVar(&cfg.dev, "dev", false, "development mode: allow http, make up a secret and admin token, seed a demo client and user")
	f.DurationVar(&cfg.qrTTL, "qr-ttl", 5*time.Minute, "lifetime of a QR session")
	f.DurationVar(&cfg.qrInterval, "qr-interval", 5*time.Second, "polling interval announced to device-flow clients")
	f.BoolVar(&cfg.noMigrate, "no-migrate", false, "do not apply database migrations on start")
	f.BoolVar(&cfg.rateLimits, "rate-limits", true, "enforce rate limits and per-IP caps; --rate-limits=false is for load tests (qrid bench) only")
	f.StringVar(&cfg.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&cfg.logFormat, "log-format", "text", "log format: text or json")
	return cmd
}

// configError lists every problem found in a configuration.
type configError []string

func (e configError) Error() string {
	if len(e) == 1 {
		return "invalid configuration: " + e[0]
	}
	return "invalid configuration:\n  - " + strings.Join(e, "\n  - ")
}

// validate reports every problem of cfg at once, as a configError.
func (cfg *serveConfig) validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if u, err := url.Parse(cfg.issuer); err != nil || cfg.issuer == "" {
		add("--issuer %q is not a URL", cfg.issuer)
	} else {
		switch {
		case !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			add("--issuer %q must be an absolute http(s) URL such as https://id.example.com", cfg.issuer)
		case u.Scheme != "https" && !cfg.dev:
			add("--issuer %q must use https (http is only allowed with --dev)", cfg.issuer)
		}
		if u.RawQuery != "" || u.ForceQuery {
			add("--issuer %q must not have a query", cfg.issuer)
		}
		if u.Fragment != "" || strings.Contains(cfg.issuer, "#") {
			add("--issuer %q must not have a fragment", cfg.issuer)
		}
		if u.User != nil {
			add("--issuer %q must not contain user information", cfg.issuer)
		}
		if strings.HasSuffix(u.Path, "/") {
			add("--issuer %q must not end with a slash", cfg.issuer)
		}
	}

	if len(cfg.secret) < digest.MinSecretLen {
		if cfg.secret == "" {
			add("--secret is required (%d bytes or more; random with --dev)", digest.MinSecretLen)
		} else {
			add("--secret is %d bytes long; it must be %d bytes or more", len(cfg.secret), digest.MinSecretLen)
		}
	}
	if cfg.adminToken == "" {
		add("--admin-token is required (random with --dev)")
	}

	addrOK := true
	for _, l := range []struct{ flag, addr string }{{"--addr", cfg.addr}, {"--admin-addr", cfg.adminAddr}} {
		if _, _, err := net.SplitHostPort(l.addr); err != nil {
			add("%s %q is not a host:port address", l.flag, l.addr)
			addrOK = false
		}
	}
	if addrOK && sameListener(cfg.addr, cfg.adminAddr) {
		add("--admin-addr %q must differ from --addr %q: the admin API never shares the public listener", cfg.adminAddr, cfg.addr)
	}

	if cfg.qrTTL <= 0 {
		add("--qr-ttl must be positive")
	}
	if cfg.qrInterval <= 0 {
		add("--qr-interval must be positive")
	} else if cfg.qrTTL > 0 && cfg.qrInterval >= cfg.qrTTL {
		add("--qr-interval %s must be shorter than --qr-ttl %s", cfg.qrInterval, cfg.qrTTL)
	}
	if _, err := parseLevel(cfg.logLevel); err != nil {
		add("--log-level: %v", err)
	}
	if cfg.logFormat != "text" && cfg.logFormat != "json" {
		add("--log-format %q must be text or json", cfg.logFormat)
	}
	if len(problems) > 0 {
		return configError(problems)
	}
	return nil
}

// sameListener reports whether two valid host:port addresses would collide: same
// port (other than 0, which picks a free one) and same or wildcard host.
func sameListener(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	if pa != pb || pa == "0" {
		return false
	}
	wildcard := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wildcard(ha) || wildcard(hb)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("%q must be debug, info, warn or error", s)
	}
	return l, nil
}

func (a *app) newLogger(cfg serveConfig) *slog.Logger {
	level, _ := parseLevel(cfg.logLevel) // validated
	opts := &slog.HandlerOptions{Level: level}
	if cfg.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(a.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(a.stderr, opts))
}

// randomToken returns 32 random bytes, base64url-encoded (43 characters).
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// generated records which secrets --dev made up.
type generated struct {
	secret, adminToken bool
}

// applyDevDefaults fills in a random secret and admin token in development mode.
func (cfg *serveConfig) applyDevDefaults() generated {
	var g generated
	if !cfg.dev {
		return g
	}
	if cfg.secret == "" {
		cfg.secret, g.secret = randomToken(), true
	}
	if cfg.adminToken == "" {
		cfg.adminToken, g.adminToken = randomToken(), true
	}
	return g
}

func (a *app) serve(ctx context.Context, cfg serveConfig) error {
	gen := cfg.applyDevDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	logger := a.newLogger(cfg)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	if cfg.dev {
		logger.Warn("development mode: http allowed, demo client and user seeded; never use it in production")
		if gen.secret && cfg.databaseURL != "" {
			logger.Warn("random system secret with a database: what it protects in the database (signing keys, secrets' digests) is unusable after a restart; set --secret")
		}
	}

	publicLn, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("cannot listen on --addr %s: %w", cfg.addr, err)
	}
	defer publicLn.Close()
	adminLn, err := net.Listen("tcp", cfg.adminAddr)
	if err != nil {
		return fmt.Errorf("cannot listen on --admin-addr %s: %w", cfg.adminAddr, err)
	}
	defer adminLn.Close()

	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			logger.Error("closing the store", "err", err)
		}
	}()

	p, err := provider.New(ctx, provider.Config{
		Issuer:     cfg.issuer,
		Dev:        cfg.dev,
		Secret:     []byte(cfg.secret),
		AdminToken: cfg.adminToken,
		QRTTL:      cfg.qrTTL,
		QRInterval: cfg.qrInterval,
		Logger:     logger,
		Demo:       demoClients(cfg.dev),

		NoRateLimits: !cfg.rateLimits,
	}, store)
	if err != nil {
		return fmt.Errorf("starting the provider: %w", err)
	}
	defer p.Close()

	var seeded *demoData
	if cfg.dev {
		if seeded, err = seedDemo(ctx, p.Admin(), logger); err != nil {
			return err
		}
	}

	errorLog := slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	servers := []struct {
		name string
		ln   net.Listener
		srv  *http.Server
	}{
		{"public", publicLn, &http.Server{
			Handler: p.PublicHandler(),
			// No WriteTimeout nor ReadTimeout: token long-polls and the login page's
			// event stream hold responses open; handlers bound their own waits.
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          errorLog,
		}},
		{"admin", adminLn, &http.Server{
			Handler:           p.AdminHandler(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          errorLog,
		}},
	}

	// Held long-polls answer at once when shutdown starts, so they do not hold it up.
	servers[0].srv.RegisterOnShutdown(p.Drain)

	serveErr := make(chan error, len(servers))
	for _, s := range servers {
		logger.Info("listening", "listener", s.name, "addr", s.ln.Addr().String())
		go func() {
			if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
				serveErr <- fmt.Errorf("%s listener: %w", s.name, err)
			}
		}()
	}

	gcCtx, stopGC := context.WithCancel(ctx)
	var gcDone sync.WaitGroup
	gcDone.Go(func() { p.RunGarbageCollector(gcCtx, gcEvery) })

	if cfg.dev {
		a.printDevBanner(cfg, gen, adminLn.Addr(), seeded)
	}

	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "grace", shutdownGrace.String())
	case runErr = <-serveErr:
		logger.Error("listener failed; shutting down", "err", runErr)
	}
	stop() // a second signal kills the process at once

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() {
			if err := s.srv.Shutdown(shutdownCtx); err != nil {
				logger.Warn("requests still running at the end of the grace period; closing them", "listener", s.name, "err", err)
				_ = s.srv.Close()
			}
		})
	}
	wg.Wait()
	stopGC()
	gcDone.Wait()
	if runErr == nil {
		logger.Info("stopped")
	}
	return runErr
}

// demoClients names the seeded demo clients for the /demo page in --dev mode.
func demoClients(dev bool) *provider.DemoClients {
	if !dev {
		return nil
	}
	return &provider.DemoClients{WebClientID: demoClientID, RedirectURI: demoRedirectURIs[0], CLIClientID: demoCLIClientID}
}
