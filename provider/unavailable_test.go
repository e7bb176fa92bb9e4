package provider_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/qrid/qrid/storage/postgres"
)

// TestStoreGoneBeforeTheGuardNotices: a request that reaches its handler after the
// store went away, before the store guard has noticed, is answered like those the
// guard refuses afterwards, 503 temporarily_unavailable with Retry-After, and not
// with what the handler makes of its failed store call: fosite's invalid_client
// when the client cannot be read, the mobile API's 500. While the store answers,
// the same requests get their ordinary refusals.
func TestStoreGoneBeforeTheGuardNotices(t *testing.T) {
	t.Parallel()
	proxy, databaseURL := proxiedTestDatabase(t)
	store := postgres.OpenTestStore(t, databaseURL)

	// Requests of unknown clients, so that no client cache answers in the store's
	// place.
	post := func(issuer, path string, form url.Values) *http.Request {
		req, err := http.NewRequest(http.MethodPost, issuer+path, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	}
	cases := []struct {
		name      string
		req       func(issuer, client string) *http.Request
		wantUp    int // the answer while the store answers
		wantError string
	}{
		{
			name: "fail/token_endpoint_cannot_read_the_client",
			req: func(issuer, client string) *http.Request {
				req := post(issuer, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}})
				req.SetBasicAuth(client, "a secret")
				return req
			},
			wantUp: http.StatusUnauthorized, wantError: "invalid_client",
		},
		{
			name: "fail/device_authorization_cannot_read_the_client",
			req: func(issuer, client string) *http.Request {
				return post(issuer, "/oauth2/device/auth", url.Values{"client_id": {client}, "scope": {"openid"}})
			},
			wantUp: http.StatusUnauthorized, wantError: "invalid_client",
		},
		{
			name: "fail/authorization_endpoint_cannot_read_the_client",
			req: func(issuer, client string) *http.Request {
				req, err := http.NewRequest(http.MethodGet, issuer+"/oauth2/auth?"+url.Values{"client_id": {client},
					"response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {"https://rp.example/cb"}, "state": {"0123456789"}}.Encode(), nil)
				if err != nil {
					t.Fatal(err)
				}
				return req
			},
			// An error page (HTML) while the store answers.
			wantUp: http.StatusBadRequest, wantError: "",
		},
		{
			name: "fail/mobile_api_cannot_read_the_device_token",
			req: func(issuer, _ string) *http.Request {
				req, err := http.NewRequest(http.MethodGet, issuer+"/api/mobile/v1/devices", nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer an-unknown-device-token")
				req.Header.Set("X-Device-Id", "phone")
				return req
			},
			wantUp: http.StatusUnauthorized, wantError: "unauthorized",
		},
	}
	type answer struct {
		status     int
		retryAfter string
		Error      string `json:"error"`
	}
	send := func(req *http.Request) answer {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
		}
		body := readBody(t, resp)
		a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			return a
		}
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			t.Fatalf("%s %s: %d answer is not JSON: %s", req.Method, req.URL.Path, resp.StatusCode, body)
		}
		return a
	}

	// One provider per case: each has its own guard, which only the case's request
	// can make notice the outage.
	envs := make([]*env, len(cases))
	secret := randomSecret(t)
	for i, c := range cases {
		envs[i] = newEnvWithSecret(t, store, secret)
		if a := send(c.req(envs[i].issuer, "unknown-before")); a.status != c.wantUp || a.Error != c.wantError {
			t.Fatalf("%s while the store answers = %d %q, want %d %s", c.name, a.status, a.Error, c.wantUp, c.wantError)
		}
	}
	proxy.Cut()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := send(c.req(envs[i].issuer, "unknown-after"))
			if a.status != http.StatusServiceUnavailable || a.Error != "temporarily_unavailable" {
				t.Fatalf("answer with the store gone = %d %q, want 503 temporarily_unavailable", a.status, a.Error)
			}
			if n, err := strconv.Atoi(a.retryAfter); err != nil || n < 1 {
				t.Fatalf("Retry-After = %q, want a number of seconds", a.retryAfter)
			}
		})
	}
}
