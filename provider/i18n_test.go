package provider_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/qrid/qrid/storage/memory"
)

// TestPagesLanguage checks that pages speak the language Accept-Language asks for,
// say which in lang and Content-Language, and tell caches that they vary with it.
func TestPagesLanguage(t *testing.T) {
	e := newEnv(t, memory.New()).seed()
	authURL := e.oauth2Config(e.trusted).AuthCodeURL("state-1234567890")
	tests := []struct {
		name     string
		url      string
		accept   string
		status   int
		lang     string
		want     []string
		dontWant []string
	}{
		{"ok/login zh-CN", authURL, "zh-CN", http.StatusOK, "zh-Hans",
			[]string{"<h1>登录</h1>", "<title>登录 · qrid</title>", `data-msg-scanned="已扫码，请在手机上确认。"`, `alt="用 qrid 应用扫描的二维码"`},
			[]string{"<h1>Sign in</h1>", "Waiting for your phone"}},
		{"ok/login zh preferred", authURL, "fr;q=1,zh;q=0.9,en;q=0.8", http.StatusOK, "zh-Hans",
			[]string{"<h1>登录</h1>"}, nil},
		{"ok/login en", authURL, "en", http.StatusOK, "en",
			[]string{"<h1>Sign in</h1>", `data-msg-scanned="Scanned — confirm on your phone."`, "Waiting for your phone…"},
			[]string{"登录"}},
		{"ok/login no header", authURL, "", http.StatusOK, "en",
			[]string{"<h1>Sign in</h1>"}, nil},
		{"ok/login garbage", authURL, "!!;q=x", http.StatusOK, "en",
			[]string{"<h1>Sign in</h1>"}, nil},
		{"ok/error page with an argument", e.issuer + "/oauth2/logout?state=a&state=b", "zh-CN", http.StatusBadRequest, "zh-Hans",
			[]string{"<h1>无效的请求</h1>", "参数 state 被发送了不止一次。", "<code>invalid_request</code>"}, nil},
		{"ok/device page", e.issuer + "/device", "zh-Hans-CN", http.StatusOK, "zh-Hans",
			[]string{"<h1>在另一块屏幕上登录</h1>", `<label for="user_code">代码</label>`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.accept != "" {
				req.Header.Set("Accept-Language", tt.accept)
			}
			resp, err := e.newBrowser().http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			page := readBody(t, resp)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d:\n%s", resp.StatusCode, tt.status, page)
			}
			if got := resp.Header.Get("Content-Language"); got != tt.lang {
				t.Errorf("Content-Language %q, want %q", got, tt.lang)
			}
			if !slices.Contains(resp.Header.Values("Vary"), "Accept-Language") {
				t.Errorf("Vary %q lacks Accept-Language", resp.Header.Values("Vary"))
			}
			for _, want := range append([]string{`<html lang="` + tt.lang + `">`}, tt.want...) {
				if !strings.Contains(page, want) {
					t.Errorf("page lacks %s:\n%s", want, page)
				}
			}
			for _, bad := range tt.dontWant {
				if strings.Contains(page, bad) {
					t.Errorf("page contains %s", bad)
				}
			}
		})
	}
}
