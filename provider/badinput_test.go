package provider_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/qrid/qrid/storage/memory"
)

// TestBadInput sends malformed, oversized, repeated, missing and hostile input to
// every public endpoint: each answer is a clear 4xx, and what was issued before still
// works afterwards.
func TestBadInput(t *testing.T) {
	e := newEnv(t, memory.New()).seed()
	b := e.newBrowser()
	tok, _ := e.codeFlow(b, e.trusted)
	big := strings.Repeat("a", 200<<10)

	type req struct {
		name, method, path, contentType, body string
		basic                                 [2]string
		bearer                                string
		want                                  int
		wantErr                               string
	}
	trusted := [2]string{e.trusted.ClientID, e.trusted.ClientSecret}
	form := "application/x-www-form-urlencoded"
	cases := []req{
		{name: "token/wrong_method", method: "GET", path: "/oauth2/token", want: 405},
		{name: "token/json_body", method: "POST", path: "/oauth2/token", contentType: "application/json", body: `{"grant_type":"client_credentials"}`, basic: trusted, want: 400, wantErr: "invalid_request"},
		{name: "token/oversized", method: "POST", path: "/oauth2/token", contentType: form, body: "grant_type=client_credentials&x=" + big, basic: trusted, want: 400},
		{name: "token/missing_grant_type", method: "POST", path: "/oauth2/token", contentType: form, body: "scope=openid", basic: trusted, want: 400, wantErr: "invalid_request"},
		{name: "token/unknown_grant_type", method: "POST", path: "/oauth2/token", contentType: form, body: "grant_type=password&username=alice&password=x", basic: trusted, want: 400, wantErr: "unsupported_grant_type"},
		{name: "token/device_code_not_offered_yet", method: "POST", path: "/oauth2/token", contentType: form, body: "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer", basic: trusted, want: 400, wantErr: "unsupported_grant_type"},
		{name: "token/repeated_grant_type", method: "POST", path: "/oauth2/token", contentType: form, body: "grant_type=refresh_token&grant_type=refresh_token&refresh_token=" + url.QueryEscape(tok.RefreshToken), basic: trusted, want: 400, wantErr: "invalid_request"},
		{name: "token/wrong_secret", method: "POST", path: "/oauth2/token", contentType: form, body: "grant_type=refresh_token&refresh_token=" + url.QueryEscape(tok.RefreshToken), basic: [2]string{e.trusted.ClientID, "nope"}, want: 401, wantErr: "invalid_client"},
		{name: "token/unknown_client", method: "POST", path: "/oauth2/token", contentType: form, body: "grant_type=client_credentials", basic: [2]string{"ghost", "secret"}, want: 401, wantErr: "invalid_client"},
		{name: "token/refresh_of_another_client", method: "POST", path: "/oauth2/token", contentType: form, body: "grant_type=refresh_token&refresh_token=" + url.QueryEscape(tok.RefreshToken), basic: [2]string{e.web.ClientID, e.web.ClientSecret}, want: 400, wantErr: "invalid_grant"},
		{name: "token/garbage_refresh_token", method: "POST", path: "/oauth2/token", contentType: form, body: "grant_type=refresh_token&refresh_token=%00%ff<script>", basic: trusted, want: 400},
		{name: "token/garbage_code", method: "POST", path: "/oauth2/token", contentType: form, body: "grant_type=authorization_code&code=abc.def&redirect_uri=" + url.QueryEscape(callbackURL), basic: trusted, want: 400, wantErr: "invalid_grant"},
		{name: "introspect/no_client_auth", method: "POST", path: "/oauth2/introspect", contentType: form, body: "token=" + url.QueryEscape(tok.AccessToken), want: 401},
		{name: "introspect/bearer_instead_of_client", method: "POST", path: "/oauth2/introspect", contentType: form, body: "token=" + url.QueryEscape(tok.AccessToken), bearer: tok.AccessToken, want: 401, wantErr: "invalid_client"},
		{name: "introspect/wrong_method", method: "GET", path: "/oauth2/introspect", want: 405},
		{name: "introspect/oversized", method: "POST", path: "/oauth2/introspect", contentType: form, body: "token=" + big, basic: trusted, want: 400},
		{name: "revoke/no_client_auth", method: "POST", path: "/oauth2/revoke", contentType: form, body: "token=" + url.QueryEscape(tok.RefreshToken), want: 400, wantErr: "invalid_request"},
		{name: "revoke/wrong_client", method: "POST", path: "/oauth2/revoke", contentType: form, body: "token=" + url.QueryEscape(tok.RefreshToken), basic: [2]string{e.web.ClientID, e.web.ClientSecret}, want: 200}, // RFC 7009 §2.2: answered 200, nothing revoked (checked below)
		{name: "revoke/missing_token", method: "POST", path: "/oauth2/revoke", contentType: form, body: "", basic: trusted, want: 400, wantErr: "invalid_request"},
		{name: "userinfo/no_token", method: "GET", path: "/userinfo", want: 401},
		{name: "userinfo/garbage_token", method: "GET", path: "/userinfo", bearer: "not-a-token", want: 401, wantErr: "invalid_token"},
		{name: "userinfo/refresh_token_as_access_token", method: "GET", path: "/userinfo", bearer: tok.RefreshToken, want: 401, wantErr: "invalid_token"},
		{name: "userinfo/wrong_method", method: "DELETE", path: "/userinfo", want: 405},
		{name: "login/wrong_method", method: "GET", path: "/login", want: 405},
		{name: "login/no_csrf", method: "POST", path: "/login", contentType: form, body: "username=alice&password=x&authz=x", want: 403},
		{name: "login/json", method: "POST", path: "/login", contentType: "application/json", body: `{}`, want: 415},
		{name: "login/oversized", method: "POST", path: "/login", contentType: form, body: "username=" + big, want: 400},
		{name: "consent/no_csrf", method: "POST", path: "/consent", contentType: form, body: "decision=allow&authz=x", want: 403},
		{name: "logout/repeated_parameter", method: "GET", path: "/oauth2/logout?state=a&state=b", want: 400},
		{name: "logout/garbage_hint", method: "GET", path: "/oauth2/logout?id_token_hint=abc.def.ghi", want: 400},
		{name: "unknown_path", method: "GET", path: "/nope", want: 404},
		{name: "static/traversal", method: "GET", path: "/static/../provider.go", want: 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _ := http.NewRequest(c.method, e.issuer+c.path, strings.NewReader(c.body))
			if c.contentType != "" {
				r.Header.Set("Content-Type", c.contentType)
			}
			if c.basic[0] != "" {
				r.SetBasicAuth(url.QueryEscape(c.basic[0]), url.QueryEscape(c.basic[1]))
			}
			if c.bearer != "" {
				r.Header.Set("Authorization", "Bearer "+c.bearer)
			}
			resp, err := b.http.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, resp)
			if resp.StatusCode != c.want {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, c.want, body)
			}
			if c.wantErr != "" {
				var e struct {
					Error string `json:"error"`
				}
				_ = json.Unmarshal([]byte(body), &e)
				if e.Error != c.wantErr {
					t.Fatalf("error = %q, want %q: %s", e.Error, c.wantErr, body)
				}
			}
		})
	}

	// Nothing above changed what was issued: the tokens still work.
	if in := e.introspect(e.trusted, tok.AccessToken); in["active"] != true {
		t.Errorf("the access token was affected by bad requests: %v", in)
	}
	if _, err := e.oauth2Config(e.trusted).TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: expired}).Token(); err != nil {
		t.Errorf("the refresh token was affected by bad requests: %v", err)
	}
}

// TestAuthorizeBadInput checks what the authorization endpoint does with hostile
// requests: never a redirect to an unregistered URI.
func TestAuthorizeBadInput(t *testing.T) {
	e := newEnv(t, memory.New()).seed()
	base := url.Values{
		"client_id": {e.web.ClientID}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {callbackURL}, "state": {"state-12345678"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
	}
	with := func(k, v string) string {
		q := url.Values{}
		for key, vals := range base {
			q[key] = vals
		}
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return e.issuer + "/oauth2/auth?" + q.Encode()
	}
	cases := []struct {
		name, url string
		// wantPage: an error page (no redirect); otherwise a redirect to the
		// client with error wantErr.
		wantPage bool
		wantErr  string
	}{
		{name: "unknown_client", url: with("client_id", "ghost"), wantPage: true},
		{name: "unregistered_redirect_uri", url: with("redirect_uri", "https://evil.example/cb"), wantPage: true},
		{name: "redirect_uri_prefix", url: with("redirect_uri", callbackURL+"/more"), wantPage: true},
		{name: "redirect_uri_with_query", url: with("redirect_uri", callbackURL+"?next=https://evil.example"), wantPage: true},
		{name: "response_type_token", url: with("response_type", "token"), wantErr: "unsupported_response_type"},
		{name: "response_mode_fragment", url: with("response_mode", "fragment"), wantErr: "unsupported_response_mode"},
		{name: "no_openid_scope", url: with("scope", "profile"), wantErr: "invalid_scope"},
		{name: "unknown_scope", url: with("scope", "openid admin"), wantErr: "invalid_scope"},
		{name: "short_state", url: with("state", "abc"), wantErr: "invalid_state"},
		{name: "plain_pkce", url: with("code_challenge_method", "plain"), wantErr: "invalid_request"},
		{name: "bad_prompt", url: with("prompt", "none login"), wantErr: "invalid_request"},
		{name: "bad_max_age", url: with("max_age", "-1"), wantErr: "invalid_request"},
		{name: "garbage_id_token_hint", url: with("id_token_hint", "a.b.c"), wantErr: "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, page := e.newBrowser().on(t).get(c.url)
			if c.wantPage {
				if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
					t.Fatalf("want a 400 error page and no redirect, got %d to %q", resp.StatusCode, resp.Header.Get("Location"))
				}
				if !strings.Contains(page, "cannot be completed") {
					t.Fatalf("error page does not explain:\n%s", page)
				}
				return
			}
			q := callback(t, resp)
			if q.Get("error") != c.wantErr {
				t.Fatalf("error = %q (%s), want %q", q.Get("error"), q.Get("error_description"), c.wantErr)
			}
		})
	}
}

// TestLoginForm checks the password form: wrong passwords, tampering and CSRF.
func TestLoginForm(t *testing.T) {
	e := newEnv(t, memory.New()).seed()
	conf := e.oauth2Config(e.trusted)
	authURL := conf.AuthCodeURL("state-login-1", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))

	loginPage := func(t *testing.T, b *browser) url.Values {
		resp, page := b.get(authURL)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("login page: %d", resp.StatusCode)
		}
		return hiddenFields(t, page)
	}
	t.Run("fail/wrong_password", func(t *testing.T) {
		b := e.newBrowser().on(t)
		f := loginPage(t, b)
		f.Set("username", "alice")
		f.Set("password", "wrong")
		resp, page := b.post(e.issuer+"/login", f)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "Wrong username or password") {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("fail/unknown_user_same_answer", func(t *testing.T) {
		b := e.newBrowser().on(t)
		f := loginPage(t, b)
		f.Set("username", "mallory")
		f.Set("password", "wrong")
		resp, page := b.post(e.issuer+"/login", f)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "Wrong username or password") {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("fail/tampered_request", func(t *testing.T) {
		b := e.newBrowser().on(t)
		f := loginPage(t, b)
		f.Set("username", "alice")
		f.Set("password", testPassword)
		f.Set("authz", f.Get("authz")+"x")
		resp, _ := b.post(e.issuer+"/login", f)
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
	})
	t.Run("fail/csrf_from_another_browser", func(t *testing.T) {
		attacker := e.newBrowser().on(t)
		f := loginPage(t, attacker)
		f.Set("username", "alice")
		f.Set("password", testPassword)
		victim := e.newBrowser().on(t)
		loginPage(t, victim) // the victim has a CSRF cookie of its own
		resp, _ := victim.post(e.issuer+"/login", f)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", resp.StatusCode)
		}
	})
	t.Run("ok/username_case_and_spaces", func(t *testing.T) {
		b := e.newBrowser().on(t)
		f := loginPage(t, b)
		f.Set("username", "  Alice ")
		f.Set("password", testPassword)
		resp, _ := b.post(e.issuer+"/login", f)
		if q := callback(t, resp); q.Get("code") == "" {
			t.Fatalf("no code: %v", q)
		}
	})
}

func TestConsentDenied(t *testing.T) {
	e := newEnv(t, memory.New()).seed()
	b := e.newBrowser()
	conf := e.oauth2Config(e.web)
	resp, page := b.get(conf.AuthCodeURL("state-deny-123", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if resp.StatusCode != http.StatusOK {
		t.Fatal(resp.StatusCode)
	}
	f := hiddenFields(t, page)
	f.Set("username", "alice")
	f.Set("password", testPassword)
	_, page = b.post(e.issuer+"/login", f)
	if !strings.Contains(page, "Web Shop") || !strings.Contains(page, "See your email address") {
		t.Fatalf("consent page does not show the client and scopes:\n%s", page)
	}
	f = hiddenFields(t, page)
	f.Set("decision", "deny")
	resp, _ = b.post(e.issuer+"/consent", f)
	if q := callback(t, resp); q.Get("error") != "access_denied" || q.Get("state") != "state-deny-123" {
		t.Fatalf("callback = %v, want access_denied", q)
	}
}

func TestCodeReplay(t *testing.T) {
	e := newEnv(t, memory.New()).seed()
	b := e.newBrowser()
	conf := e.oauth2Config(e.trusted)
	verifier := oauth2.GenerateVerifier()
	q := b.signIn(conf.AuthCodeURL("state-replay-1", oauth2.S256ChallengeOption(verifier)), "alice", testPassword)

	t.Run("fail/wrong_redirect_uri", func(t *testing.T) {
		other := *conf
		other.RedirectURL = "http://127.0.0.1:9999/other"
		_, err := other.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(verifier))
		assertOAuthError(t, err, "invalid_grant")
	})
	t.Run("fail/another_client", func(t *testing.T) {
		_, err := e.oauth2Config(e.web).Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(verifier))
		assertOAuthError(t, err, "invalid_grant")
	})
	tok, err := conf.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("first exchange: %v", err)
	}
	_, err = conf.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(verifier))
	assertOAuthError(t, err, "invalid_grant")
	// RFC 6749 §4.1.2: a replayed code revokes what it issued.
	if in := e.introspect(e.trusted, tok.AccessToken); in["active"] != false {
		t.Errorf("tokens of a replayed code are still active: %v", in)
	}
}
