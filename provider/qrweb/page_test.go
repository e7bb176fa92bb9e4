package qrweb

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// assertPage checks what every /q/ page must be: HTML under the provider's CSP,
// never cached, in English, with a heading, and without a secret of the session.
func assertPage(t *testing.T, res *http.Response, body string, status int) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d:\n%s", res.StatusCode, status, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	for _, want := range []string{`<html lang="en">`, "<h1>", `href="/static/qrid.css"`, `href="/static/q.css"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// default-src 'self': no inline script or style of any kind.
	lower := strings.ToLower(body)
	for _, bad := range []string{"<script", "<style", " style=", "javascript:", " onclick", " onload", "must-not-leak", "203.0.113.77"} {
		if strings.Contains(lower, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
}

func TestPage(t *testing.T) {
	r, _, _ := newTestRouter(t)
	for _, id := range []string{idPending, idScanned} {
		t.Run("ok/"+id, func(t *testing.T) {
			res, body := get(t, r, "/q/"+id)
			page := string(body)
			assertPage(t, res, page, http.StatusOK)
			for _, want := range []string{
				`href="qrid://q/` + id + `"`,
				`href="/device?qr=` + id + `"`,
				"Open this in the qrid app to sign in",
				"No app? Sign in on the web",
			} {
				if !strings.Contains(page, want) {
					t.Errorf("page lacks %s:\n%s", want, page)
				}
			}
			if strings.Contains(page, "expired or does not exist") {
				t.Error("a live code is called expired")
			}
		})
	}
}

func TestPageNotFound(t *testing.T) {
	tests := []struct {
		name string
		id   string
		now  time.Time
	}{
		{"fail/unknown", idUnknown, t0},
		{"fail/expired", idExpired, t0},
		{"fail/expired since", idPending, t0.Add(301 * time.Second)},
		{"fail/approved", idApproved, t0},
		{"fail/denied", idDenied, t0},
		{"fail/consumed", idConsumed, t0},
		{"fail/malformed", "not-a-qr-id", t0},
		{"fail/malformed markup", "%3Cb%3EAAAAAAAAAAAAAAAAAAA", t0},
	}
	r, c, _ := newTestRouter(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Set(tt.now)
			res, body := get(t, r, "/q/"+tt.id)
			page := string(body)
			assertPage(t, res, page, http.StatusNotFound)
			if !strings.Contains(page, "This sign-in code has expired or does not exist") {
				t.Errorf("page lacks the expiry message:\n%s", page)
			}
			for _, bad := range []string{"qrid://", "/device?", "<b>"} {
				if strings.Contains(page, bad) {
					t.Errorf("a dead code's page contains %q", bad)
				}
			}
		})
	}
}

func TestPageStoreFailure(t *testing.T) {
	r, _, _ := newTestRouter(t)
	res, body := get(t, r, "/q/"+idBroken)
	page := string(body)
	assertPage(t, res, page, http.StatusInternalServerError)
	if strings.Contains(page, "unreachable") || strings.Contains(page, "qrid://") {
		t.Errorf("failure page shows too much:\n%s", page)
	}
}
