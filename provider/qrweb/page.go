package qrweb

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
	"sync"

	"github.com/gorilla/mux"

	"github.com/qrid/qrid/templates"
)

// page is templates/q.html with the layout, parsed once.
var page = sync.OnceValues(func() (*template.Template, error) {
	pages, err := templates.Parse(template.FuncMap{})
	if err != nil {
		return nil, err
	}
	t, ok := pages["q.html"]
	if !ok {
		return nil, errors.New("qrweb: templates has no q.html")
	}
	return t, nil
})

// pageData is what q.html shows. ID is set only when the session is live; the
// template builds the deep link qrid://q/{ID} and the web link /device?qr={ID}.
// Failed says the session could not be looked up (a store failure).
type pageData struct {
	ID     string
	Failed bool
}

// servePage serves GET /q/{qr_id}, what a phone camera opens.
func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["qr_id"]
	status, data := http.StatusOK, pageData{ID: id}
	_, err := h.liveSession(r.Context(), id, h.now())
	switch {
	case gone(err):
		status, data = http.StatusNotFound, pageData{}
	case err != nil:
		h.log().ErrorContext(r.Context(), "look up QR session", "err", err)
		status, data = http.StatusInternalServerError, pageData{Failed: true}
	}
	t, err := page()
	if err != nil {
		h.log().ErrorContext(r.Context(), "parse page", "page", "q.html", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	// Render into a buffer first so a template failure is a clean 500, not half a
	// page.
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		h.log().ErrorContext(r.Context(), "render page", "page", "q.html", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}
