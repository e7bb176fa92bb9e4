package qrweb

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPageLanguage(t *testing.T) {
	tests := []struct {
		name, accept, id, lang, want string
	}{
		{"ok/zh live", "zh-CN,zh;q=0.9", idPending, "zh-Hans", "<h1>使用 qrid 登录</h1>"},
		{"ok/zh expired", "zh", idExpired, "zh-Hans", "此登录代码已过期或不存在。"},
		{"ok/en", "en-GB", idPending, "en", "<h1>Sign in with qrid</h1>"},
		{"ok/other language", "fr", idPending, "en", "<h1>Sign in with qrid</h1>"},
	}
	r, _, _ := newTestRouter(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/q/"+tt.id, nil)
			req.Header.Set("Accept-Language", tt.accept)
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			body, _ := io.ReadAll(rec.Result().Body)
			page := string(body)
			for _, want := range []string{`<html lang="` + tt.lang + `">`, tt.want} {
				if !strings.Contains(page, want) {
					t.Errorf("page lacks %s:\n%s", want, page)
				}
			}
			if got := rec.Header().Get("Content-Language"); got != tt.lang {
				t.Errorf("Content-Language %q, want %q", got, tt.lang)
			}
			if got := rec.Header().Get("Vary"); got != "Accept-Language" {
				t.Errorf("Vary %q", got)
			}
		})
	}
}
