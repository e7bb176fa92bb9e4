package webapp

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/gorilla/mux"
	"golang.org/x/text/language"

	"github.com/qrid/qrid/provider/i18n"
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

// renderedShell returns the shell /app serves for an Accept-Language header
// value ("" sends none).
func renderedShell(t *testing.T, acceptLanguage string) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/app", nil)
	if acceptLanguage != "" {
		req.Header.Set("Accept-Language", acceptLanguage)
	}
	res, body := do(t, newRouter(&Handler{}), req)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	return body
}

func TestShell(t *testing.T) {
	r := newRouter(&Handler{})
	want := renderedShell(t, "")
	if !strings.Contains(want, `<html lang="en">`) || strings.Contains(want, "{{") {
		t.Fatalf("the English shell is not rendered:\n%.300s", want)
	}

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
			t.Error("body is not the English shell")
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

func TestShellLanguage(t *testing.T) {
	r := newRouter(&Handler{})
	etags := map[string]string{}
	for _, tt := range []struct{ name, accept, lang, text string }{
		{"ok/none", "", "en", "Scan a sign-in code"},
		{"ok/en-GB", "en-GB,en;q=0.9", "en", "Scan a sign-in code"},
		{"ok/zh-CN", "zh-CN", "zh-Hans", "扫描登录代码"},
		{"ok/zh-CN preferred", "zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans", "扫描登录代码"},
		{"ok/zh-TW", "zh-TW", "zh-Hans", "扫描登录代码"},
		{"ok/unspoken", "fr-FR,de;q=0.5", "en", "Scan a sign-in code"},
		{"ok/malformed", ";;;=", "en", "Scan a sign-in code"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/app", nil)
			if tt.accept != "" {
				req.Header.Set("Accept-Language", tt.accept)
			}
			res, body := do(t, r, req)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d", res.StatusCode)
			}
			if !strings.Contains(body, `<html lang="`+tt.lang+`">`) {
				t.Errorf("no <html lang=%q> in\n%.200s", tt.lang, body)
			}
			if cl := res.Header.Get("Content-Language"); cl != tt.lang {
				t.Errorf("Content-Language %q, want %q", cl, tt.lang)
			}
			if v := res.Header.Values("Vary"); !slices.Contains(v, "Accept-Language") {
				t.Errorf("Vary %q", v)
			}
			if !strings.Contains(body, tt.text) {
				t.Errorf("the shell lacks %q", tt.text)
			}
			if strings.Contains(body, "{{") {
				t.Error("the shell has template actions left")
			}
			if prev, ok := etags[tt.lang]; ok && prev != res.Header.Get("ETag") {
				t.Errorf("two ETags for %s", tt.lang)
			}
			etags[tt.lang] = res.Header.Get("ETag")
		})
	}
	if etags["en"] == etags["zh-Hans"] {
		t.Error("the English and Chinese shells share an ETag")
	}

	// A 304 names the language too, and an ETag of the other language is no match.
	req := httptest.NewRequest(http.MethodGet, "/app", nil)
	req.Header.Set("Accept-Language", "zh-CN")
	req.Header.Set("If-None-Match", etags["zh-Hans"])
	if res, _ := do(t, r, req); res.StatusCode != http.StatusNotModified || res.Header.Get("Content-Language") != "zh-Hans" {
		t.Errorf("status %d, Content-Language %q", res.StatusCode, res.Header.Get("Content-Language"))
	}
	req.Header.Set("If-None-Match", etags["en"])
	if res, _ := do(t, r, req); res.StatusCode != http.StatusOK {
		t.Errorf("the English ETag matched the Chinese shell: status %d", res.StatusCode)
	}
}

// TestShellText checks that both languages have the same shell texts, none
// empty, and that the shell uses every one (a key it uses but lacks fails the
// rendering, which TestShellLanguage covers).
func TestShellText(t *testing.T) {
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\{\{\s*\.T\.(\w+)\s*\}\}`).FindAllStringSubmatch(shellFile(t), -1) {
		used[m[1]] = true
	}
	if len(used) == 0 {
		t.Fatal("the shell uses no texts")
	}
	en := shellText[language.English]
	for _, lang := range i18n.Supported {
		texts, ok := shellText[lang]
		if !ok {
			t.Errorf("no shell texts in %v", lang)
			continue
		}
		for key, text := range texts {
			if strings.TrimSpace(text) == "" {
				t.Errorf("%v: %q is empty", lang, key)
			}
			if _, ok := en[key]; !ok {
				t.Errorf("%v has %q, which English lacks", lang, key)
			}
			if !used[key] {
				t.Errorf("%v: the shell does not use %q", lang, key)
			}
		}
		for key := range en {
			if _, ok := texts[key]; !ok {
				t.Errorf("%v lacks %q", lang, key)
			}
		}
	}
	if len(shellText) != len(i18n.Supported) {
		t.Errorf("shell texts in %d languages, i18n speaks %d", len(shellText), len(i18n.Supported))
	}
}

func TestShellBadTemplate(t *testing.T) {
	for name, src := range map[string]string{
		"unknown key": "<p>{{.T.no_such_text}}",
		"syntax":      "<p>{{.T.skip",
	} {
		t.Run("fail/"+name, func(t *testing.T) {
			r := newRouter(&Handler{Static: fstest.MapFS{ShellPath: {Data: []byte(src)}}, Logger: discard()})
			res, _ := do(t, r, httptest.NewRequest(http.MethodGet, "/app", nil))
			if res.StatusCode != http.StatusInternalServerError {
				t.Fatalf("status %d", res.StatusCode)
			}
		})
	}
}

func TestShellFromStatic(t *testing.T) {
	shell := `<!doctype html><html lang="{{.Lang}}"><p>{{.T.loading}}`
	r := newRouter(&Handler{Static: fstest.MapFS{ShellPath: {Data: []byte(shell)}}})
	for accept, want := range map[string]string{
		"":      `<!doctype html><html lang="en"><p>Loading…`,
		"zh-CN": `<!doctype html><html lang="zh-Hans"><p>正在加载…`,
	} {
		req := httptest.NewRequest(http.MethodGet, "/app", nil)
		req.Header.Set("Accept-Language", accept)
		res, body := do(t, r, req)
		if res.StatusCode != http.StatusOK || body != want {
			t.Fatalf("%q: status %d, body %q", accept, res.StatusCode, body)
		}
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
