package jsonapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	Write(w, http.StatusCreated, map[string]string{"redirect_uri": "https://rp.example/cb?a=1&b=<2>"})
	if w.Code != http.StatusCreated || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("status %d, Content-Type %q", w.Code, w.Header().Get("Content-Type"))
	}
	if got, want := w.Body.String(), `{"redirect_uri":"https://rp.example/cb?a=1&b=<2>"}`+"\n"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	WriteError(w, http.StatusNotFound, "not_found", "No route matches /x.")
	if got, want := w.Body.String(), `{"error":"not_found","message":"No route matches /x."}`+"\n"; w.Code != http.StatusNotFound || got != want {
		t.Errorf("%d %q, want 404 %q", w.Code, got, want)
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header []string
		token  string
		ok     bool
	}{
		{"ok", []string{"Bearer abc"}, "abc", true},
		{"ok/scheme_case", []string{"bEARER abc"}, "abc", true},
		{"ok/spaces_trimmed", []string{"Bearer   abc  "}, "abc", true},
		{"fail/none", nil, "", false},
		{"fail/basic", []string{"Basic YWxpY2U6eA=="}, "", false},
		{"fail/no_token", []string{"Bearer"}, "", false},
		{"fail/blank_token", []string{"Bearer   "}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header["Authorization"] = tt.header
			token, ok := BearerToken(r)
			if token != tt.token || ok != tt.ok {
				t.Errorf("BearerToken = %q, %v; want %q, %v", token, ok, tt.token, tt.ok)
			}
		})
	}
}
