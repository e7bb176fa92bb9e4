package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
)

// Mode is what a run measures.
type Mode string

// The modes (see the package documentation).
const (
	ModeLogin             Mode = "login"
	ModePoll              Mode = "poll"
	ModeClientCredentials Mode = "cc"
	ModeRefresh           Mode = "refresh"
	ModeHold              Mode = "hold"
)

// LongPollWait is the wait (seconds) the long-polls ask for: the most qrid allows
// (DESIGN §4).
const LongPollWait = 25

// DefaultDuration is how long a run lasts when neither Duration nor Count is set.
const DefaultDuration = 10 * time.Second

// AdminAPI calls qrid's admin API: method, path (such as /admin/v1/clients) and a
// JSON body (nil for none). It returns the body of a 2xx answer and an error
// otherwise.
type AdminAPI func(ctx context.Context, method, path string, body []byte) ([]byte, error)

// Config configures a run.
type Config struct {
	Mode Mode
	// Issuer is the exact issuer URL of the server.
	Issuer string
	// Admin reaches the server's admin API, for setup and cleanup.
	Admin AdminAPI
	// MetricsURL is where the server's Prometheus metrics are; "" means
	// Issuer + "/metrics", where qrid serves them.
	MetricsURL string
	// PhoneAddr, when set, is the host:port of another node of the same deployment
	// (same issuer, same database): the phones' requests go there while the PCs'
	// go to the issuer's address, so that every approval crosses from one node to
	// the other through the database. The phones still use the issuer's URLs (and
	// their DPoP proofs name them), as they would behind a load balancer.
	PhoneAddr string
	// Concurrency is the number of workers: virtual PC and phone pairs in login
	// mode, pollers in poll mode, relying parties in cc and refresh modes. In hold
	// mode it bounds the setup's parallel requests.
	Concurrency int
	// Duration bounds the run; Count bounds the iterations of all workers together.
	// A run stops at whichever comes first; with neither, it lasts DefaultDuration.
	// In hold mode Duration is how long the long-polls are held and Count is unused.
	Duration time.Duration
	Count    int
	// Sessions is the number of pending sessions poll mode polls (default 100).
	Sessions int
	// Holds is the number of long-polls hold mode keeps held (default 1000).
	Holds int
	// BearerTokens signs the phones in with plain bearer tokens; by default their
	// tokens are DPoP-bound (RFC 9449), as the mobile app's are.
	BearerTokens bool
	// Keep leaves the client and users created for the run in place.
	Keep bool
	// Progress receives a progress line every ProgressEvery (none when nil or 0),
	// and the hints of the run.
	Progress      io.Writer
	ProgressEvery time.Duration
}

// Default sizes of poll and hold modes.
const (
	DefaultSessions = 100
	DefaultHolds    = 1000
)

// check reports every problem of cfg at once and fills in the defaults.
func (cfg *Config) check() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	switch cfg.Mode {
	case ModeLogin, ModePoll, ModeClientCredentials, ModeRefresh, ModeHold:
	default:
		add("unknown mode %q (login, poll, cc, refresh or hold)", cfg.Mode)
	}
	if err := checkHTTPURL(cfg.Issuer); err != nil {
		add("the issuer %v", err)
	} else if strings.HasSuffix(cfg.Issuer, "/") {
		add("the issuer %q must not end with a slash", cfg.Issuer)
	}
	if cfg.PhoneAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.PhoneAddr); err != nil {
			add("the phones' address %q is not host:port", cfg.PhoneAddr)
		}
	}
	if cfg.MetricsURL != "" {
		if err := checkHTTPURL(cfg.MetricsURL); err != nil {
			add("the metrics URL %v", err)
		}
	}
	if cfg.Admin == nil {
		add("no admin API to set up the run with")
	}
	if cfg.Concurrency < 1 {
		add("the concurrency must be at least 1, not %d", cfg.Concurrency)
	}
	if cfg.Duration < 0 {
		add("the duration must not be negative")
	}
	if cfg.Count < 0 {
		add("the count must not be negative")
	}
	if cfg.Mode == ModeHold && cfg.Count > 0 {
		add("hold mode holds a number of long-polls (Holds) for a Duration; it takes no count")
	}
	if cfg.Sessions < 0 {
		add("the number of sessions must not be negative")
	}
	if cfg.Holds < 0 {
		add("the number of held polls must not be negative")
	}
	if cfg.ProgressEvery < 0 {
		add("the progress interval must not be negative")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	if cfg.Duration == 0 && cfg.Count == 0 {
		cfg.Duration = DefaultDuration
	}
	if cfg.Sessions == 0 {
		cfg.Sessions = DefaultSessions
	}
	if cfg.Holds == 0 {
		cfg.Holds = DefaultHolds
	}
	if cfg.MetricsURL == "" {
		cfg.MetricsURL = cfg.Issuer + "/metrics"
	}
	return nil
}

// checkHTTPURL checks that s is an absolute http(s) URL.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if s == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q must be an http(s) URL such as http://localhost:8080", s)
	}
	return nil
}
