package provider

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/qrid/qrid/provider/jsonapi"
	"github.com/qrid/qrid/templates"
)

// maxFormBytes bounds every form body the public endpoints parse.
const maxFormBytes = 64 << 10

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeJSONError writes the JSON error shape of qrid's own APIs.
func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]string{"error": code, "message": message})
}

// writeOAuthError writes an RFC 6749 §5.2 error.
func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// securityHeaders sets the headers every public response carries: a strict CSP (no
// inline script or style, no framing), no sniffing, no referrer.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' https: data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self' http: https:")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a panic into a logged 500 instead of a dropped connection.
func (p *Provider) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &jsonapi.StatusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				p.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				if !rec.Written() {
					writeJSONError(rec, http.StatusInternalServerError, "server_error", "The server failed to handle this request.")
				}
			}
			p.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rec.Status(), "duration", time.Since(start))
		}()
		next.ServeHTTP(rec, r)
	})
}

func staticHandler() http.Handler {
	files := http.FileServer(http.FS(templates.Static()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := fs.Stat(templates.Static(), r.URL.Path); err != nil || r.URL.Path == "" {
			writeJSONError(w, http.StatusNotFound, "not_found", "No such file.")
			return
		}
		if strings.HasPrefix(r.URL.Path, "app/") {
			// The mobile web app's code must match its shell after an upgrade.
			w.Header().Set("Cache-Control", "no-cache")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=3600")
		}
		if strings.HasSuffix(r.URL.Path, ".webmanifest") {
			w.Header().Set("Content-Type", "application/manifest+json")
		}
		files.ServeHTTP(w, r)
	})
}
