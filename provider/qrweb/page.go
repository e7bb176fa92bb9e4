package qrweb

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
	"sync"

	"github.com/gorilla/mux"

	"github.com/qrid/qrid/provider/i18n"
	"github.com/qrid/qrid/templates"
)

// pages is templates/q.html with the layout in every language qrid speaks, parsed
// once, by templates.Name.
var pages = sync.OnceValues(func() (map[string]*template.Template, error) {
	all, err := templates.Parse(template.FuncMap{})
	if err != nil {
		return nil, err
	}
	out := make(map[string]*template.Template, len(i18n.Supported))
	for _, lang := range i18n.Supported {
		name := templates.Name(lang, "q.html")
		t, ok := all[name]
		if !ok {
			return nil, errors.New("qrweb: templates has no " + name)
		}
		out[name] = t
	}
	return out, nil
})

// pageData is what q.html shows. ID is set only when the session is live; the
// template builds the deep link qrid://q/{ID} and the web link /device?qr={ID}.
// Failed says the session could not be looked up (a store failure).
type pageData struct {
	ID     string
	Failed bool
}

// servePage serves GET /q/{qr_id}, what a phone camera opens, in the language the
// phone's Accept-Language asks for.
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
	all, err := pages()
	if err != nil {
		h.log().ErrorContext(r.Context(), "parse page", "page", "q.html", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	// Render into a buffer first so a template failure is a clean 500, not half a
	// page.
	lang := i18n.FromRequest(r)
	var buf bytes.Buffer
	if err := all[templates.Name(lang, "q.html")].ExecuteTemplate(&buf, "layout", data); err != nil {
		h.log().ErrorContext(r.Context(), "render page", "page", "q.html", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	i18n.SetHeaders(w.Header(), lang)
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}
