package i18n

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/text/language"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   language.Tag
	}{
		{"ok/zh-CN", "zh-CN", language.SimplifiedChinese},
		{"ok/zh-Hans-CN", "zh-Hans-CN", language.SimplifiedChinese},
		{"ok/zh", "zh", language.SimplifiedChinese},
		{"ok/zh preferred", "zh;q=0.9,en;q=0.8", language.SimplifiedChinese},
		{"ok/weights over order", "en;q=0.1,zh-CN;q=0.9", language.SimplifiedChinese},
		{"ok/unknown first", "fr-FR,fr;q=0.9,zh-CN;q=0.5", language.SimplifiedChinese},
		{"ok/traditional gets simplified", "zh-TW", language.SimplifiedChinese},
		{"ok/en-GB", "en-GB", language.English},
		{"ok/en-US first", "en-US,zh-CN;q=0.5", language.English},
		{"fallback/fr", "fr", language.English},
		{"fallback/empty", "", language.English},
		{"fallback/wildcard", "*", language.English},
		{"fallback/garbage", "!!garbage;;q=x", language.English},
		{"fallback/bad weight", "zh;q=abc", language.English},
		{"fallback/control characters", "zh\x00\x01", language.English},
		{"fallback/10 KB", strings.Repeat("zh-CN,", 10<<10/6), language.English},
		{"fallback/10 KB of one tag", "zh-" + strings.Repeat("a", 10<<10), language.English},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Match(tt.header); got != tt.want {
				t.Errorf("Match(%.40q) = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
}

func TestFromRequest(t *testing.T) {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	if got := FromRequest(r); got != language.English {
		t.Errorf("no header: %v, want en", got)
	}
	r.Header.Add("Accept-Language", "fr;q=0.9")
	r.Header.Add("Accept-Language", "zh-CN;q=0.8")
	if got := FromRequest(r); got != language.SimplifiedChinese {
		t.Errorf("two header fields: %v, want zh-Hans", got)
	}
}

func TestT(t *testing.T) {
	tests := []struct {
		name string
		lang language.Tag
		key  string
		args []any
		want string
	}{
		{"ok/en", language.English, LoginWrongPassword, nil, "Wrong username or password."},
		{"ok/zh", language.SimplifiedChinese, LoginWrongPassword, nil, "用户名或密码错误。"},
		{"ok/args", language.English, MessageParamTwice, []any{"state"}, "The parameter state was sent more than once."},
		{"ok/zh args", language.SimplifiedChinese, "device_confirm.heading", []any{"Web Shop"}, "登录 Web Shop？"},
		{"fallback/unsupported language", language.French, LoginWrongPassword, nil, "Wrong username or password."},
		{"fallback/unknown key", language.SimplifiedChinese, "no.such.key", nil, "no.such.key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := T(tt.lang, tt.key, tt.args...); got != tt.want {
				t.Errorf("T(%v, %q) = %q, want %q", tt.lang, tt.key, got, tt.want)
			}
		})
	}
}

func TestTFallsBackToEnglish(t *testing.T) {
	en["test.only_english"] = "Only in English"
	t.Cleanup(func() { delete(en, "test.only_english") })
	if got := T(language.SimplifiedChinese, "test.only_english"); got != "Only in English" {
		t.Errorf("got %q", got)
	}
}

// TestCatalogsComplete checks that every catalog has exactly the English keys, no
// empty message, and the same fmt verbs as the English message.
func TestCatalogsComplete(t *testing.T) {
	verbs := regexp.MustCompile(`%[-+# 0]*[0-9]*(?:\.[0-9]+)?[a-zA-Z%]`)
	for lang, cat := range catalogs {
		for key, msg := range en {
			tr, ok := cat[key]
			switch {
			case !ok:
				t.Errorf("%v lacks %q", lang, key)
			case strings.TrimSpace(tr) == "":
				t.Errorf("%v: %q is empty", lang, key)
			case !slices.Equal(verbs.FindAllString(msg, -1), verbs.FindAllString(tr, -1)):
				t.Errorf("%v: %q has verbs %q, English has %q", lang, key, verbs.FindAllString(tr, -1), verbs.FindAllString(msg, -1))
			}
		}
		for key := range cat {
			if _, ok := en[key]; !ok {
				t.Errorf("%v has %q, which English lacks", lang, key)
			}
		}
	}
	if len(catalogs) != len(Supported) {
		t.Errorf("%d catalogs for %d languages", len(catalogs), len(Supported))
	}
}

// templateKey finds the literal keys of t calls in templates: {{t "key"}},
// {{t "key" .Arg}} and (t "key") inside a pipeline.
var templateKey = regexp.MustCompile(`(?:\{\{-?|\()\s*t\s+"([^"]*)"`)

// TestKeysUsed checks that every key the templates and the Go code use is in the
// catalog, and that every catalog key is used by one of them.
func TestKeysUsed(t *testing.T) {
	used := map[string]string{} // key → where
	pages, err := filepath.Glob("../../templates/*.html")
	if err != nil || len(pages) == 0 {
		t.Fatalf("no templates found: %v", err)
	}
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range templateKey.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = filepath.Base(page)
		}
	}
	for _, key := range goKeys(t) {
		used[key] = "keys.go"
	}
	for key, where := range used {
		if _, ok := en[key]; !ok {
			t.Errorf("%s uses %q, which the catalog lacks", where, key)
		}
	}
	for key := range en {
		if _, ok := used[key]; !ok {
			t.Errorf("the catalog has %q, which nothing uses", key)
		}
	}
}

// goKeys returns the values of the string constants of keys.go.
func goKeys(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "keys.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	ast.Inspect(f, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, s)
		}
		return true
	})
	if len(keys) == 0 {
		t.Fatal("keys.go has no keys")
	}
	return keys
}

func TestSetHeaders(t *testing.T) {
	h := http.Header{}
	SetHeaders(h, language.SimplifiedChinese)
	if got := h.Get("Content-Language"); got != "zh-Hans" {
		t.Errorf("Content-Language %q", got)
	}
	if got := h.Values("Vary"); !slices.Contains(got, "Accept-Language") {
		t.Errorf("Vary %q", got)
	}
}
