package webapp

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/gorilla/mux"

	"github.com/qrid/qrid/templates"
)

func newRouter(h *Handler) *mux.Router {
	r := mux.NewRouter().SkipClean(true)
	h.Mount(r)
	return r
}

func do(t *testing.T, r http.Handler, req *http.Request) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

func shellFile(t *testing.T) string {
	t.Helper()
	b, err := fs.ReadFile(templates.Static(), ShellPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestShell(t *testing.T) {
	r := newRouter(&Handler{})
	want := shellFile(t)

	t.Run("ok/GET", func(t *testing.T) {
		res, body := do(t, r, httptest.NewRequest(http.MethodGet, "/app", nil))
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d", res.StatusCode)
		}
		if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("Cache-Control %q", cc)
		}
		if res.Header.Get("ETag") == "" {
			t.Error("no ETag")
		}
		if body != want {
			t.Error("body is not app/index.html")
		}
	})

	t.Run("ok/query", func(t *testing.T) {
		res, body := do(t, r, httptest.NewRequest(http.MethodGet, "/app?qr=AAAAAAAAAAAAAAAAAAAAAA", nil))
		if res.StatusCode != http.StatusOK || body != want {
			t.Fatalf("status %d", res.StatusCode)
		}
	})

	t.Run("ok/HEAD", func(t *testing.T) {
		res, body := do(t, r, httptest.NewRequest(http.MethodHead, "/app", nil))
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d", res.StatusCode)
		}
		if body != "" {
			t.Error("HEAD has a body")
		}
		if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
	})

	t.Run("ok/revalidated", func(t *testing.T) {
		res, _ := do(t, r, httptest.NewRequest(http.MethodGet, "/app", nil))
		req := httptest.NewRequest(http.MethodGet, "/app", nil)
		req.Header.Set("If-None-Match", res.Header.Get("ETag"))
		res, body := do(t, r, req)
		if res.StatusCode != http.StatusNotModified || body != "" {
			t.Fatalf("status %d, body %d bytes", res.StatusCode, len(body))
		}
	})

	t.Run("fail/method", func(t *testing.T) {
		res, _ := do(t, r, httptest.NewRequest(http.MethodPost, "/app", strings.NewReader("x")))
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("status %d", res.StatusCode)
		}
	})

	t.Run("fail/other path", func(t *testing.T) {
		res, _ := do(t, r, httptest.NewRequest(http.MethodGet, "/app/index.html", nil))
		if res.StatusCode != http.StatusNotFound {
			t.Fatalf("status %d", res.StatusCode)
		}
	})
}

func TestRedirect(t *testing.T) {
	r := newRouter(&Handler{})
	for _, tt := range []struct{ name, path, location string }{
		{"ok/plain", "/app/", "/app"},
		{"ok/query kept", "/app/?qr=AAAAAAAAAAAAAAAAAAAAAA", "/app?qr=AAAAAAAAAAAAAAAAAAAAAA"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				res, _ := do(t, r, httptest.NewRequest(method, tt.path, nil))
				if res.StatusCode != http.StatusMovedPermanently {
					t.Fatalf("%s: status %d", method, res.StatusCode)
				}
				if loc := res.Header.Get("Location"); loc != tt.location {
					t.Errorf("%s: Location %q, want %q", method, loc, tt.location)
				}
			}
		})
	}
}

func TestShellMissing(t *testing.T) {
	r := newRouter(&Handler{Static: fstest.MapFS{}, Logger: discard()})
	res, _ := do(t, r, httptest.NewRequest(http.MethodGet, "/app", nil))
	if res.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d", res.StatusCode)
	}
}

func TestShellFromStatic(t *testing.T) {
	r := newRouter(&Handler{Static: fstest.MapFS{ShellPath: {Data: []byte("<!doctype html><p>test shell")}}})
	res, body := do(t, r, httptest.NewRequest(http.MethodGet, "/app", nil))
	if res.StatusCode != http.StatusOK || body != "<!doctype html><p>test shell" {
		t.Fatalf("status %d, body %q", res.StatusCode, body)
	}
}

func TestInstrument(t *testing.T) {
	var mu sync.Mutex
	var names []string
	h := &Handler{Instrument: func(name string, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			names = append(names, name)
			mu.Unlock()
			next.ServeHTTP(w, r)
		})
	}}
	r := newRouter(h)
	do(t, r, httptest.NewRequest(http.MethodGet, "/app", nil))
	do(t, r, httptest.NewRequest(http.MethodGet, "/app/", nil))
	if strings.Join(names, ",") != "app,app" {
		t.Fatalf("instrumented as %v", names)
	}
}
