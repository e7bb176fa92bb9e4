package qrweb

import (
	"bytes"
	"image/png"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/qrid/qrid/grants/qr"
	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
)

// TestWithService runs the handler over the real QR service and the in-memory
// store: the image of a new session says its verification_uri_complete, and the
// image and page die with the session.
func TestWithService(t *testing.T) {
	c := &clock{t: t0}
	key := func(prefix string) qr.Digest { return func(s string) string { return prefix + s } }
	store := memory.New()
	if err := store.CreateClient(t.Context(), storage.Client{ID: "tv", Name: "TV", CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	svc, err := qr.NewService(store, qr.NewHub(), qr.Config{
		Issuer: testIssuer, TTL: 5 * time.Minute, Now: c.Now,
		DeviceCodes: key("d:"), UserCodes: key("u:"), ConfirmTokens: key("c:"),
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := svc.Authorize(t.Context(), qr.AuthorizeRequest{ClientID: "tv", Scopes: []string{"openid"}})
	if err != nil {
		t.Fatal(err)
	}
	r := mux.NewRouter().SkipClean(true)
	(&Handler{QR: svc, Issuer: testIssuer, Now: c.Now, Logger: slog.New(slog.DiscardHandler)}).Mount(r)

	imageURI, err := url.Parse(a.QRImageURI)
	if err != nil {
		t.Fatal(err)
	}
	res, body := get(t, r, imageURI.Path)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("qr_image_uri %s: status %d: %s", a.QRImageURI, res.StatusCode, body)
	}
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeQR(t, img); got != a.VerificationURIComplete {
		t.Errorf("QR says %q, want verification_uri_complete %q", got, a.VerificationURIComplete)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "private, max-age=300" {
		t.Errorf("Cache-Control %q", cc)
	}
	res, body = get(t, r, "/q/"+a.QRID)
	if res.StatusCode != http.StatusOK || bytes.Contains(body, []byte(a.UserCode)) {
		t.Errorf("page: status %d, shows the user code: %v", res.StatusCode, bytes.Contains(body, []byte(a.UserCode)))
	}

	c.Set(t0.Add(5 * time.Minute))
	res, body = get(t, r, imageURI.Path)
	assertJSONError(t, res, body, http.StatusNotFound, "not_found")
	res, body = get(t, r, "/q/"+a.QRID)
	if res.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "expired or does not exist") {
		t.Errorf("expired page: status %d:\n%s", res.StatusCode, body)
	}
}
