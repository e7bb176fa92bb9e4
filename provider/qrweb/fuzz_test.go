package qrweb

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gorilla/mux"
)

// FuzzQRPath feeds arbitrary qr_id strings (and size parameters) to the image and
// page handlers: they never answer 5xx, and only a live session's qr_id gets a 200.
func FuzzQRPath(f *testing.F) {
	for _, seed := range []string{
		idPending, idScanned, idExpired, idConsumed, idUnknown, "", "a", "../../etc/passwd",
		idPending + ".png", "AAAAAAAAAAAAAAAAAAAA==", "AAAAAAAAAAAAAAAAAAAA+/", "ÅÅÅÅÅÅÅÅÅÅÅ",
		" " + idPending, idPending + "\x00", "%2F", "<script>", "\xff\xfe",
	} {
		f.Add(seed, "256")
	}
	f.Add(idPending, "99999999999999999999")
	f.Add(idPending, "-1")
	f.Fuzz(func(t *testing.T, id, size string) {
		c := &clock{t: t0}
		h := &Handler{QR: newFake(), Issuer: testIssuer, Now: c.Now, Logger: slog.New(slog.DiscardHandler)}
		live := id == idPending || id == idScanned
		query := url.Values{"size": {size}}.Encode()
		// Straight to the handlers, with any qr_id a router could hand over.
		for name, serve := range map[string]http.HandlerFunc{"png": h.servePNG, "svg": h.serveSVG, "page": h.servePage} {
			req := httptest.NewRequest(http.MethodGet, "/fuzz?"+query, nil)
			req = mux.SetURLVars(req, map[string]string{"qr_id": id})
			rec := httptest.NewRecorder()
			serve(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %q size %q: status %d: %s", name, id, size, rec.Code, rec.Body)
			}
			if rec.Code == http.StatusOK && !live {
				t.Fatalf("%s %q: 200 for a qr_id that is not live", name, id)
			}
		}
		// Through the router, as a path sent on the wire.
		r := mux.NewRouter().SkipClean(true)
		h.Mount(r)
		for _, path := range []string{"/qr/" + id + ".png", "/qr/" + id + ".svg", "/q/" + id} {
			req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: path, RawQuery: query}, Header: http.Header{}}
			req = req.WithContext(t.Context())
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%q: status %d: %s", path, rec.Code, rec.Body)
			}
		}
	})
}
