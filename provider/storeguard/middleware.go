package storeguard

import (
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
// while the store is down, and passes requests to next otherwise. A 5xx answer from
// next makes the guard check the store at once.
func (g *Guard) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.down.Load() && !g.exempt(r.URL.Path) {
			g.refused.Add(1)
			h := w.Header()
			h.Set("Retry-After", strconv.FormatInt(g.retryAfter.Load(), 10))
			h.Set("Cache-Control", "no-store")
			jsonapi.Write(w, http.StatusServiceUnavailable, unavailableBody{
				Error: "temporarily_unavailable", ErrorDescription: unavailableMessage, Message: unavailableMessage,
			})
			return
		}
		rec := &jsonapi.StatusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.Status() >= 500 {
			g.Check()
		}
	})
}

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
