package storeguard_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/qrid/qrid/provider/storeguard"
	"github.com/qrid/qrid/storage"
)

// Every test here closes its guards: no watcher may outlive them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeStore is a store whose pings fail while err is set.
type fakeStore struct {
	mu    sync.Mutex
	err   error
	fails int // the next fails pings fail with errFlaky, whatever err is
	pings int
}

var (
	errGone  = &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	errFlaky = fmt.Errorf("postgres: %w", io.ErrUnexpectedEOF)
)

func (s *fakeStore) Ping(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pings++
	if s.fails > 0 {
		s.fails--
		return errFlaky
	}
	return s.err
}

func (s *fakeStore) set(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *fakeStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pings
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start starts a guard on store that is closed when t ends.
func start(t *testing.T, store storeguard.Pinger, opts storeguard.Options) *storeguard.Guard {
	t.Helper()
	opts.Logger = quiet()
	g := storeguard.New(store, opts)
	g.Start(context.Background())
	t.Cleanup(g.Close)
	return g
}

// fast are options under which the guard reacts within milliseconds.
var fast = storeguard.Options{CheckEvery: time.Millisecond, RetryMin: time.Millisecond, RetryMax: 4 * time.Millisecond, MinCheckGap: time.Millisecond}

// slow are options under which the guard pings only at start and when asked to.
var slow = storeguard.Options{CheckEvery: time.Hour, RetryMin: time.Millisecond, MinCheckGap: time.Millisecond}

// waitDown waits, with a deadline, until g.Down() is down.
func waitDown(t *testing.T, g *storeguard.Guard, down bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		changed := g.Changed()
		if g.Down() == down {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("the guard did not see the store %s within 10 s", map[bool]string{true: "down", false: "up"}[down])
		}
	}
}

// eventually waits, with a deadline, until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s: not within 10 s", what)
		}
	}
}

// answer is what a request through the middleware got.
type answer struct {
	status     int
	retryAfter string
	body       map[string]string
}

func serve(t *testing.T, h http.Handler, path string) answer {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	a := answer{status: rec.Code, retryAfter: rec.Header().Get("Retry-After")}
	if rec.Code == http.StatusServiceUnavailable {
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("GET %s: 503 with Content-Type %q", path, ct)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &a.body); err != nil {
			t.Fatalf("GET %s: 503 body is not JSON: %q", path, rec.Body)
		}
	}
	return a
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })

func TestGuard(t *testing.T) {
	t.Run("ok/up_while_the_store_answers", func(t *testing.T) {
		store := &fakeStore{}
		g := start(t, store, fast)
		eventually(t, "a few pings", func() bool { return store.count() >= 3 })
		if g.Down() {
			t.Fatal("the guard reports the store down although every ping answered")
		}
		h := g.Middleware(okHandler)
		for _, path := range []string{"/oauth2/token", "/readyz", "/healthz"} {
			if a := serve(t, h, path); a.status != http.StatusOK {
				t.Fatalf("GET %s = %d while the store answers", path, a.status)
			}
		}
	})

	t.Run("fail/store_gone_then_back", func(t *testing.T) {
		store := &fakeStore{err: errGone}
		g := start(t, store, fast)
		waitDown(t, g, true)
		h := g.Middleware(okHandler)
		for _, path := range []string{"/oauth2/token", "/oauth2/auth", "/readyz", "/api/mobile/v1/login", "/.well-known/openid-configuration",
			"/", "/healthzz", "/metrics/x", "/static", "/static/../oauth2/token", "/static/./x"} {
			a := serve(t, h, path)
			if a.status != http.StatusServiceUnavailable {
				t.Fatalf("GET %s = %d while the store is down, want 503", path, a.status)
			}
			if n, err := strconv.Atoi(a.retryAfter); err != nil || n < 1 {
				t.Fatalf("GET %s: Retry-After = %q, want a number of seconds", path, a.retryAfter)
			}
			if a.body["error"] != "temporarily_unavailable" || a.body["message"] == "" || a.body["error_description"] == "" {
				t.Fatalf("GET %s: body = %v", path, a.body)
			}
		}
		for _, path := range []string{"/healthz", "/metrics", "/static/qrid.css", "/static/app/app.js"} {
			if a := serve(t, h, path); a.status != http.StatusOK {
				t.Fatalf("GET %s = %d while the store is down; it is exempt", path, a.status)
			}
		}
		store.set(nil)
		waitDown(t, g, false)
		if a := serve(t, h, "/oauth2/token"); a.status != http.StatusOK {
			t.Fatalf("GET /oauth2/token = %d after the store came back", a.status)
		}
	})

	t.Run("ok/one_failed_ping_is_not_an_outage", func(t *testing.T) {
		store := &fakeStore{fails: 1}
		g := storeguard.New(store, storeguard.Options{CheckEvery: time.Millisecond, Logger: quiet()})
		changed := g.Changed()
		g.Start(context.Background())
		t.Cleanup(g.Close)
		// The third ping starts after the second one's answer was taken in.
		eventually(t, "three pings", func() bool { return store.count() >= 3 })
		select {
		case <-changed:
			t.Fatal("one failed ping followed by a good one was taken for an outage")
		default:
		}
		if g.Down() {
			t.Fatal("the guard reports the store down")
		}
	})

	t.Run("ok/a_reported_connection_error_is_checked_at_once", func(t *testing.T) {
		store := &fakeStore{}
		g := start(t, store, slow)
		eventually(t, "the first ping", func() bool { return store.count() >= 1 })
		store.set(errGone)
		g.Report(fmt.Errorf("postgres: %w", errGone))
		// The next scheduled ping is an hour away: only the report explains this.
		waitDown(t, g, true)
	})

	t.Run("ok/a_5xx_answer_is_checked_at_once", func(t *testing.T) {
		store := &fakeStore{}
		g := start(t, store, slow)
		eventually(t, "the first ping", func() bool { return store.count() >= 1 })
		store.set(errGone)
		failing := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "the store failed", http.StatusInternalServerError)
		}))
		serve(t, failing, "/oauth2/token")
		// The next scheduled ping is an hour away: only the 5xx answer explains this.
		waitDown(t, g, true)
	})

	t.Run("fail/a_5xx_while_the_store_is_gone_becomes_503", func(t *testing.T) {
		// The guard has not noticed yet: the handler found out first.
		store := &fakeStore{}
		g := start(t, store, slow)
		eventually(t, "the first ping", func() bool { return store.count() >= 1 })
		store.set(errGone)
		failing := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "<p>the store failed</p>")
		}))
		a := serve(t, failing, "/api/mobile/v1/devices")
		if a.status != http.StatusServiceUnavailable || a.body["error"] != "temporarily_unavailable" || a.body["message"] == "" {
			t.Fatalf("a 500 while the store is gone = %d %v, want the guard's 503", a.status, a.body)
		}
		if n, err := strconv.Atoi(a.retryAfter); err != nil || n < 1 {
			t.Fatalf("Retry-After = %q, want a number of seconds", a.retryAfter)
		}
	})

	t.Run("ok/a_5xx_while_the_store_answers_is_left_alone", func(t *testing.T) {
		store := &fakeStore{}
		g := start(t, store, slow)
		failing := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "a bug", http.StatusInternalServerError)
		}))
		rec := httptest.NewRecorder()
		failing.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/oauth2/token", nil))
		if rec.Code != http.StatusInternalServerError || rec.Body.String() != "a bug\n" || rec.Header().Get("Retry-After") != "" {
			t.Fatalf("a 500 while the store answers = %d %q (Retry-After %q), want it unchanged",
				rec.Code, rec.Body, rec.Header().Get("Retry-After"))
		}
	})

	t.Run("ok/every_503_has_a_retry_after", func(t *testing.T) {
		g := start(t, &fakeStore{}, slow)
		for _, own := range []string{"", "7"} {
			unavailable := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if own != "" {
					w.Header().Set("Retry-After", own)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, `{"error":"unavailable","message":"Not now."}`)
			}))
			a := serve(t, unavailable, "/.well-known/jwks.json")
			want := own
			if want == "" {
				want = strconv.FormatInt(int64(g.RetryAfter()/time.Second), 10)
			}
			if a.status != http.StatusServiceUnavailable || a.retryAfter != want || a.body["error"] != "unavailable" {
				t.Fatalf("a handler's 503 (Retry-After %q) = %d %v with Retry-After %q, want its own answer with Retry-After %q",
					own, a.status, a.body, a.retryAfter, want)
			}
		}
	})

	t.Run("ok/metrics", func(t *testing.T) {
		store := &fakeStore{err: errGone}
		g := start(t, store, fast)
		waitDown(t, g, true)
		serve(t, g.Middleware(okHandler), "/oauth2/token")
		reg := prometheus.NewRegistry()
		reg.MustRegister(g.Collectors()...)
		want := map[string]float64{"qrid_store_up": 0, "qrid_store_outages_total": 1, "qrid_store_unavailable_responses_total": 1}
		if got := gather(t, reg); !maps.Equal(got, want) {
			t.Fatalf("metrics = %v, want %v", got, want)
		}
		store.set(nil)
		waitDown(t, g, false)
		if up := gather(t, reg)["qrid_store_up"]; up != 1 {
			t.Fatalf("qrid_store_up = %v after recovery", up)
		}
	})

	t.Run("ok/close", func(t *testing.T) {
		// Close without Start, twice, and a Start after Close that starts nothing
		// (TestMain's leak check would see it).
		g := storeguard.New(&fakeStore{}, storeguard.Options{Logger: quiet()})
		g.Close()
		g.Close()
		g.Start(context.Background())
		if g.Down() {
			t.Fatal("a guard that never pinged reports the store down")
		}
		// A started guard stops when its context ends, and Close still returns.
		ctx, cancel := context.WithCancel(context.Background())
		g = storeguard.New(&fakeStore{}, storeguard.Options{Logger: quiet()})
		g.Start(ctx)
		cancel()
		g.Close()
	})
}

// gather returns the value of every metric in reg.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch {
			case m.GetGauge() != nil:
				values[f.GetName()] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				values[f.GetName()] = m.GetCounter().GetValue()
			}
		}
	}
	return values
}

func TestIsConnectionError(t *testing.T) {
	// A port nothing listens on: a real pgconn connect error.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, connectErr := pgconn.Connect(ctx, "postgres://qrid@"+addr+"/qrid?sslmode=disable&connect_timeout=5")
	if connectErr == nil {
		t.Fatalf("connecting to %s succeeded", addr)
	}

	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"ok/connect_refused", fmt.Errorf("postgres: %w", connectErr), true},
		{"ok/net_error", errGone, true},
		{"ok/cut_mid_message", errFlaky, true},
		{"ok/conn_closed", fmt.Errorf("postgres: %w", pgconn.ErrConnClosed), true},
		{"ok/deadline", fmt.Errorf("postgres: %w", context.DeadlineExceeded), true},
		{"ok/admin_shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"ok/connection_failure", &pgconn.PgError{Code: "08006"}, true},
		{"ok/too_many_connections", &pgconn.PgError{Code: "53300"}, true},
		{"fail/nil", nil, false},
		{"fail/not_found", storage.ErrNotFound, false},
		{"fail/conflict", fmt.Errorf("%w (clients_pkey)", storage.ErrConflict), false},
		{"fail/unique_violation", &pgconn.PgError{Code: "23505"}, false},
		{"fail/caller_gone", fmt.Errorf("postgres: %w", context.Canceled), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := storeguard.IsConnectionError(tc.err); got != tc.want {
				t.Fatalf("IsConnectionError(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
