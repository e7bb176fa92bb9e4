package admin

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.call(http.MethodGet, "/admin/v1/keys", "")
	wantStatus(t, r, http.StatusOK)
	want := `{"keys":[{"kid":"rs-1","alg":"RS256","active":true,"created_at":"2030-01-02T02:04:05Z"},` +
		`{"kid":"es-1","alg":"ES256","active":true,"created_at":"2030-01-02T01:04:05Z"}]}`
	if got := strings.TrimSpace(string(r.body)); got != want {
		t.Errorf("keys\n got %s\nwant %s", got, want)
	}

	// Rotating one algorithm.
	r = e.call(http.MethodPost, "/admin/v1/keys/rotate", `{"alg":"ES256"}`)
	wantStatus(t, r, http.StatusOK)
	var list struct{ Keys []map[string]any }
	r.decode(t, &list)
	if len(list.Keys) != 3 {
		t.Fatalf("keys after rotation: %s", r.body)
	}
	if k := list.Keys[0]; k["alg"] != "ES256" || k["active"] != true || k["retired_at"] != nil {
		t.Errorf("new key %v", k)
	}
	if k := list.Keys[2]; k["kid"] != "es-1" || k["active"] != false ||
		k["retired_at"] != "2030-01-02T03:04:05Z" || k["expires_at"] != "2030-01-03T03:04:05Z" {
		t.Errorf("retired key %v", k)
	}

	// Rotating everything: no body, and an empty object.
	wantStatus(t, e.send(request{method: http.MethodPost, path: "/admin/v1/keys/rotate", contentType: ptr("")}), http.StatusOK)
	wantStatus(t, e.call(http.MethodPost, "/admin/v1/keys/rotate", `{}`), http.StatusOK)
	if got, want := e.keys.rotations(), []string{"ES256", "", ""}; !reflect.DeepEqual(got, want) {
		t.Errorf("rotations %q, want %q", got, want)
	}

	// Unknown algorithms are refused before the key manager is called.
	for _, body := range []string{`{"alg":"HS256"}`, `{"alg":"es256"}`, `{"alg":"none"}`} {
		wantError(t, e.call(http.MethodPost, "/admin/v1/keys/rotate", body), http.StatusBadRequest, "invalid_request")
	}
	if n := len(e.keys.rotations()); n != 3 {
		t.Errorf("refused rotations reached the key manager: %d calls", n)
	}
}

func TestKeysFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.keys.mu.Lock()
	e.keys.err = errors.New("sealed key store unreachable")
	e.keys.mu.Unlock()
	for _, r := range []response{
		e.call(http.MethodGet, "/admin/v1/keys", ""),
		e.call(http.MethodPost, "/admin/v1/keys/rotate", `{"alg":"RS256"}`),
	} {
		m := wantError(t, r, http.StatusInternalServerError, "internal_error")
		if strings.Contains(m["message"].(string), "unreachable") {
			t.Errorf("internal details in the answer: %v", m["message"])
		}
	}
	if !strings.Contains(e.logs.String(), "sealed key store unreachable") {
		t.Error("the failure is not logged")
	}

	// Without a key manager the key routes say so instead of failing.
	e2 := newEnv(t, func(e *env) { e.svc.Keys = nil })
	wantError(t, e2.call(http.MethodGet, "/admin/v1/keys", ""), http.StatusServiceUnavailable, "unavailable")
}
