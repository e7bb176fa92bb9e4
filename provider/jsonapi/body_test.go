package jsonapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type login struct {
	Username string   `json:"username"`
	Remember bool     `json:"remember"`
	Scopes   []string `json:"scopes"`
	Device   struct {
		ID string `json:"id"`
	} `json:"device"`
	Tries int `json:"tries"`
}

func post(body, contentType string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func TestDecode(t *testing.T) {
	t.Parallel()
	const limit = 64
	const jsonType = "application/json"
	tests := []struct {
		name        string
		body        string
		contentType string
		problem     Problem
		status      int
		message     string
	}{
		{"ok", `{"username":"alice","remember":true}`, jsonType, 0, 0, ""},
		{"ok/charset_parameter", `{"username":"alice"}`, "application/json; charset=utf-8", 0, 0, ""},
		{"ok/surrounding_space", " \n{}\n ", jsonType, 0, 0, ""},
		{"fail/empty", ``, jsonType, Empty, http.StatusBadRequest,
			"The request body is empty; send a JSON object."},
		{"fail/empty_before_content_type", ``, "", Empty, http.StatusBadRequest,
			"The request body is empty; send a JSON object."},
		{"fail/no_content_type", `{}`, "", NotJSON, http.StatusUnsupportedMediaType,
			"The request body must be JSON, sent with Content-Type: application/json."},
		{"fail/form_content_type", `username=alice`, "application/x-www-form-urlencoded", NotJSON, http.StatusUnsupportedMediaType,
			"The request body must be JSON, sent with Content-Type: application/json."},
		{"fail/malformed_content_type", `{}`, "application/json; ===", NotJSON, http.StatusUnsupportedMediaType,
			"The request body must be JSON, sent with Content-Type: application/json."},
		{"fail/too_large", `{"username":"` + strings.Repeat("a", limit) + `"}`, jsonType, TooLarge, http.StatusRequestEntityTooLarge,
			"The request body is larger than 64 bytes."},
		{"fail/too_large_after_object", `{}` + strings.Repeat(" ", limit) + `x`, jsonType, TooLarge, http.StatusRequestEntityTooLarge,
			"The request body is larger than 64 bytes."},
		{"fail/syntax", `{"username" "x"}`, jsonType, Invalid, http.StatusBadRequest,
			"The request body is not valid JSON (at byte 13)."},
		{"fail/cut_short", `{"username":`, jsonType, Invalid, http.StatusBadRequest,
			"The request body ends in the middle of a JSON value."},
		{"fail/array", `[]`, jsonType, Invalid, http.StatusBadRequest,
			"The request body must be a JSON object, not a array."},
		{"fail/string_field_number", `{"username":1}`, jsonType, Invalid, http.StatusBadRequest,
			"Field username has the wrong type: got a number, want a string."},
		{"fail/bool_field_string", `{"remember":"yes"}`, jsonType, Invalid, http.StatusBadRequest,
			"Field remember has the wrong type: got a string, want a boolean."},
		{"fail/array_field_object", `{"scopes":{}}`, jsonType, Invalid, http.StatusBadRequest,
			"Field scopes has the wrong type: got a object, want an array."},
		{"fail/object_field_array", `{"device":[]}`, jsonType, Invalid, http.StatusBadRequest,
			"Field device has the wrong type: got a array, want an object."},
		{"fail/number_field_string", `{"tries":"3"}`, jsonType, Invalid, http.StatusBadRequest,
			"Field tries has the wrong type: got a string, want a number."},
		{"fail/unknown_field", `{"admin":true}`, jsonType, Invalid, http.StatusBadRequest,
			`The request body is not acceptable: unknown field "admin".`},
		{"fail/trailing_object", `{}{}`, jsonType, Invalid, http.StatusBadRequest,
			"The request body has data after the JSON object; send exactly one object."},
		{"fail/trailing_garbage", `{} x`, jsonType, Invalid, http.StatusBadRequest,
			"The request body has data after the JSON object; send exactly one object."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var v login
			e := Decode(httptest.NewRecorder(), post(tt.body, tt.contentType), &v, limit)
			if tt.problem == 0 {
				if e != nil {
					t.Fatalf("Decode: %v", e)
				}
				return
			}
			if e == nil {
				t.Fatalf("Decode accepted %q", tt.body)
			}
			if e.Problem != tt.problem || e.Status() != tt.status || e.Message != tt.message {
				t.Errorf("got problem %d, status %d, %q\nwant problem %d, status %d, %q",
					e.Problem, e.Status(), e.Message, tt.problem, tt.status, tt.message)
			}
			if e.Error() != e.Message {
				t.Errorf("Error() %q, want the message", e.Error())
			}
		})
	}
}

func TestDecodeFillsValue(t *testing.T) {
	t.Parallel()
	var v login
	if e := Decode(httptest.NewRecorder(), post(`{"username":"alice","scopes":["a"],"device":{"id":"d"},"tries":2}`, "application/json"), &v, 1<<10); e != nil {
		t.Fatal(e)
	}
	if v.Username != "alice" || len(v.Scopes) != 1 || v.Device.ID != "d" || v.Tries != 2 {
		t.Errorf("decoded %+v", v)
	}
}

func TestDecodeKeepsCause(t *testing.T) {
	t.Parallel()
	var v login
	e := Decode(httptest.NewRecorder(), post(`{"username":"`+strings.Repeat("a", 100)+`"}`, "application/json"), &v, 10)
	var tooLarge *http.MaxBytesError
	if !errors.As(e, &tooLarge) || tooLarge.Limit != 10 {
		t.Errorf("Decode error %v does not wrap the *http.MaxBytesError", e)
	}
}

func TestRequireJSON(t *testing.T) {
	t.Parallel()
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON"} {
		if e := RequireJSON(post(`{}`, ct)); e != nil {
			t.Errorf("RequireJSON(%q): %v", ct, e)
		}
	}
	for _, ct := range []string{"", "text/plain", "application/jsonx", "application/json; ="} {
		if e := RequireJSON(post(`{}`, ct)); e == nil || e.Problem != NotJSON {
			t.Errorf("RequireJSON(%q) = %v, want a NotJSON problem", ct, e)
		}
	}
}
