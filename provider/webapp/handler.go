package webapp

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"golang.org/x/text/language"

	"github.com/qrid/qrid/provider/i18n"
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
// keeping the query) on r. The shell is read and rendered once, here.
func (h *Handler) Mount(r *mux.Router) {
	wrap := h.Instrument
	if wrap == nil {
		wrap = func(_ string, h http.Handler) http.Handler { return h }
	}
	methods := []string{http.MethodGet, http.MethodHead}
	r.Handle("/app", wrap("app", h.shell())).Methods(methods...)
	r.Handle("/app/", wrap("app", http.HandlerFunc(redirect))).Methods(methods...)
}

// page is the shell rendered in one language, with its strong ETag.
type page struct {
	body []byte
	etag string
}

// shell returns the handler of /app: the shell from the assets, rendered once
// per language of provider/i18n and served in the one the request's
// Accept-Language picks (Content-Language, Vary: Accept-Language), revalidated
// on every load (Cache-Control: no-cache with a strong ETag), so a new version of
// the app reaches phones on their next visit.
func (h *Handler) shell() http.Handler {
	assets := h.Static
	if assets == nil {
		assets = templates.Static()
	}
	pages, err := renderShell(assets)
	if err != nil {
		log := h.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Error("render the app shell", "path", ShellPath, "err", err)
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "The app is not available.", http.StatusInternalServerError)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lang := i18n.FromRequest(r)
		p, ok := pages[lang]
		if !ok {
			lang = i18n.Supported[0]
			p = pages[lang]
		}
		hd := w.Header()
		hd.Set("Content-Type", "text/html; charset=utf-8")
		hd.Set("Cache-Control", "no-cache")
		hd.Set("ETag", p.etag)
		i18n.SetHeaders(hd, lang)
		// ServeContent answers HEAD, If-None-Match (304) and ranges.
		http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(p.body))
	})
}

// shellData is what the shell template sees: the language tag for <html lang>
// (which app.js reads to pick its messages) and the shell's texts.
type shellData struct {
	Lang string
	T    map[string]string
}

// renderShell renders the shell template in every supported language. A key the
// shell names but a language lacks is an error, not a blank.
func renderShell(assets fs.FS) (map[language.Tag]page, error) {
	src, err := fs.ReadFile(assets, ShellPath)
	if err != nil {
		return nil, err
	}
	tmpl, err := template.New(ShellPath).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, err
	}
	pages := make(map[language.Tag]page, len(i18n.Supported))
	for _, lang := range i18n.Supported {
		var b bytes.Buffer
		if err := tmpl.Execute(&b, shellData{Lang: lang.String(), T: shellText[lang]}); err != nil {
			return nil, fmt.Errorf("%v: %w", lang, err)
		}
		sum := sha256.Sum256(b.Bytes())
		pages[lang] = page{body: b.Bytes(), etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
	}
	return pages, nil
}

// redirect sends /app/ to /app, with the query (/app/?qr=… keeps its code).
func redirect(w http.ResponseWriter, r *http.Request) {
	target := "/app"
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, target, http.StatusMovedPermanently)
}
