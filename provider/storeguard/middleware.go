package storeguard

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/qrid/qrid/provider/jsonapi"
)

// unavailableMessage is the sentence refused callers are shown.
const unavailableMessage = "The service is temporarily unavailable; try again in a few seconds."

// unavailableBody is the 503 answer: qrid's JSON error shape and RFC 6749 §5.2's at
// once.
type unavailableBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	Message          string `json:"message"`
}

// Middleware answers 503 with Retry-After for every request but the exempt paths
// while the store is down, and passes requests to next otherwise. Of next's
// answers, a 503 without a Retry-After header gets the guard's, and any other 5xx
// given while the store does not answer (the guard knows it is down, or a ping made
// there and then fails) is replaced by the guard's 503: the request failed because
// the store is away, which is the client's cue to try again, not a server fault. A
// 5xx answer from next makes the guard check the store at once.
func (g *Guard) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.down.Load() && !g.exempt(r.URL.Path) {
			g.Refuse(w)
			return
		}
		gw := &guardedWriter{ResponseWriter: w, guard: g, ctx: r.Context()}
		next.ServeHTTP(gw, r)
		if gw.status >= 500 {
			g.Check()
		}
	})
}

// Refuse answers 503 Service Unavailable with Retry-After (the current retry delay)
// and the temporarily_unavailable body: what the middleware answers while the store
// is down. Handlers call it when a store call failed with a connection error
// (IsConnectionError) that they would otherwise report as something else, such as
// an OAuth library's invalid_client.
func (g *Guard) Refuse(w http.ResponseWriter) {
	g.refused.Add(1)
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Retry-After", strconv.FormatInt(g.retryAfter.Load(), 10))
	h.Set("Cache-Control", "no-store")
	jsonapi.Write(w, http.StatusServiceUnavailable, unavailableBody{
		Error: "temporarily_unavailable", ErrorDescription: unavailableMessage, Message: unavailableMessage,
	})
}

// unreachable reports whether the store does not answer right now: the guard knows
// it is down, or a ping made now fails. A guard not watching (before Start, after
// Close) reports the store reachable.
func (g *Guard) unreachable(ctx context.Context) bool {
	if !g.watching.Load() {
		return false
	}
	return g.down.Load() || g.ping(context.WithoutCancel(ctx)) != nil
}

// guardedWriter is the ResponseWriter next writes to: it gives a 503 a Retry-After
// and replaces any other 5xx by the guard's 503 while the store is unreachable.
type guardedWriter struct {
	http.ResponseWriter
	guard    *Guard
	ctx      context.Context
	status   int  // the status next wrote, 0 until it wrote one
	replaced bool // next's answer is replaced by the guard's 503; the rest of it is dropped
}

func (w *guardedWriter) WriteHeader(status int) {
	switch {
	case w.replaced:
		return
	case w.status != 0 || status < 200:
		// Informational, or superfluous: net/http deals with it.
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.status = status
	switch {
	case status == http.StatusServiceUnavailable:
		if w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", strconv.FormatInt(w.guard.retryAfter.Load(), 10))
		}
	case status >= 500 && w.guard.unreachable(w.ctx):
		w.replaced = true
		w.guard.Refuse(w.ResponseWriter)
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *guardedWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK // what net/http sends before the first byte
	}
	if w.replaced {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (to flush, for
// instance).
func (w *guardedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// exempt reports whether path is served while the store is down. A path with a "."
// or ".." segment is never exempt, so that no spelling of another path slips through
// an exempt prefix.
func (g *Guard) exempt(path string) bool {
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	for _, e := range g.opts.Exempt {
		if path == e || strings.HasSuffix(e, "/") && strings.HasPrefix(path, e) {
			return true
		}
	}
	return false
}

// Collectors are the guard's Prometheus metrics, to register with the provider's:
// qrid_store_up (1 or 0), qrid_store_outages_total and
// qrid_store_unavailable_responses_total (requests refused with 503).
func (g *Guard) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "qrid_store_up", Help: "Whether the store answers (1) or not (0), as the store guard last saw it.",
		}, func() float64 {
			if g.Down() {
				return 0
			}
			return 1
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "qrid_store_outages_total", Help: "Times the store guard found the store unreachable.",
		}, func() float64 { return float64(g.outages.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "qrid_store_unavailable_responses_total", Help: "Requests answered 503 because the store was unreachable.",
		}, func() float64 { return float64(g.refused.Load()) }),
	}
}
