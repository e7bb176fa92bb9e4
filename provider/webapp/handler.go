package webapp

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/qrid/qrid/templates"
)

// ShellPath is the app shell's path inside the static assets (templates.Static()).
const ShellPath = "app/index.html"

// Handler serves the app shell at /app. The app's scripts, styles, manifest and
// icons are files under templates/static/app/, served by the provider's /static/
// route.
type Handler struct {
	// Static holds the assets; nil means templates.Static().
	Static fs.FS
	// Logger receives the failure to read the shell; nil means slog.Default().
	Logger *slog.Logger
	// Instrument, when set, wraps each route's handler with the endpoint's name
	// ("app"), for metrics.
	Instrument func(endpoint string, h http.Handler) http.Handler
}

// Mount registers GET and HEAD /app (the shell) and /app/ (a redirect to /app,
// keeping the query) on r. The shell is read once, here.
func (h *Handler) Mount(r *mux.Router) {
	wrap := h.Instrument
	if wrap == nil {
		wrap = func(_ string, h http.Handler) http.Handler { return h }
	}
	methods := []string{http.MethodGet, http.MethodHead}
	r.Handle("/app", wrap("app", h.shell())).Methods(methods...)
	r.Handle("/app/", wrap("app", http.HandlerFunc(redirect))).Methods(methods...)
}

// shell returns the handler of /app: the shell from the assets, revalidated on
// every load (Cache-Control: no-cache with a strong ETag), so a new version of the
// app reaches phones on their next visit.
func (h *Handler) shell() http.Handler {
	assets := h.Static
	if assets == nil {
		assets = templates.Static()
	}
	page, err := fs.ReadFile(assets, ShellPath)
	if err != nil {
		log := h.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Error("read the app shell", "path", ShellPath, "err", err)
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "The app is not available.", http.StatusInternalServerError)
		})
	}
	sum := sha256.Sum256(page)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Type", "text/html; charset=utf-8")
		hd.Set("Cache-Control", "no-cache")
		hd.Set("ETag", etag)
		// ServeContent answers HEAD, If-None-Match (304) and ranges.
		http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(page))
	})
}

// redirect sends /app/ to /app, with the query (/app/?qr=… keeps its code).
func redirect(w http.ResponseWriter, r *http.Request) {
	target := "/app"
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, target, http.StatusMovedPermanently)
}
