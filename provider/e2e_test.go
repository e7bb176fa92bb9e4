package provider_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/qrid/qrid/storage"
)

type idClaims struct {
	Subject           string   `json:"sub"`
	AuthTime          int64    `json:"auth_time"`
	AMR               []string `json:"amr"`
	SID               string   `json:"sid"`
	Name              string   `json:"name"`
	PreferredUsername string   `json:"preferred_username"`
	Email             string   `json:"email"`
}

func TestAuthorizationCodeFlow(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) storage.Storage) {
		e := newEnv(t, newStore(t)).seed()
		b := e.newBrowser()
		tok, nonce := e.codeFlow(b, e.web)

		raw, _ := tok.Extra("id_token").(string)
		idt, err := e.verifier(e.web.ClientID).Verify(e.ctx(), raw)
		if err != nil {
			t.Fatalf("ID token does not verify: %v", err)
		}
		if idt.Nonce != nonce {
			t.Errorf("nonce = %q, want %q", idt.Nonce, nonce)
		}
		var c idClaims
		if err := idt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		if c.Subject != e.user.ID || c.AuthTime == 0 || !slices.Contains(c.AMR, "pwd") || c.SID == "" {
			t.Errorf("claims = %+v, want sub %s, auth_time, amr pwd and sid", c, e.user.ID)
		}
		if c.Email != "alice@example.com" || c.Name != "Alice Liddell" || c.PreferredUsername != "alice" {
			t.Errorf("profile/email claims = %+v", c)
		}
		if tok.RefreshToken == "" {
			t.Error("no refresh token although offline_access was granted")
		}

		prov, err := oidc.NewProvider(e.ctx(), e.issuer)
		if err != nil {
			t.Fatal(err)
		}
		info, err := prov.UserInfo(e.ctx(), oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		if info.Subject != e.user.ID || info.Email != "alice@example.com" {
			t.Errorf("userinfo = %+v", info)
		}

		// A second application in the same browser: SSO, no password asked again;
		// the consent was remembered for the first client.
		tok2, _ := e.codeFlowSSO(b, e.web)
		if tok2.AccessToken == "" {
			t.Fatal("no access token on the SSO sign-in")
		}
	})
}

// codeFlowSSO expects the browser to be signed in already: the authorization request
// goes straight back to the client.
func (e *env) codeFlowSSO(b *browser, c adminClient) (*oauth2.Token, url.Values) {
	e.t.Helper()
	conf := e.oauth2Config(c)
	verifier := oauth2.GenerateVerifier()
	resp, page := b.get(conf.AuthCodeURL("state-sso-123", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-sso-123")))
	if resp.StatusCode == http.StatusOK {
		e.t.Fatalf("expected a redirect (SSO), got a page:\n%s", page)
	}
	q := callback(e.t, resp)
	tok, err := conf.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return tok, q
}

func TestPublicClientPKCE(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) storage.Storage) {
		e := newEnv(t, newStore(t)).seed()
		conf := e.oauth2Config(e.public)

		t.Run("fail/no_code_challenge", func(t *testing.T) {
			b := e.newBrowser()
			resp, _ := b.get(conf.AuthCodeURL("state-nopkce-1"))
			q := callback(t, resp)
			if q.Get("error") != "invalid_request" {
				t.Errorf("error = %q, want invalid_request (PKCE required of public clients)", q.Get("error"))
			}
		})
		t.Run("fail/plain_method", func(t *testing.T) {
			b := e.newBrowser()
			resp, _ := b.get(conf.AuthCodeURL("state-plain-1",
				oauth2.SetAuthURLParam("code_challenge", strings.Repeat("a", 43)),
				oauth2.SetAuthURLParam("code_challenge_method", "plain")))
			q := callback(t, resp)
			if q.Get("error") == "" || q.Get("code") != "" {
				t.Errorf("plain PKCE accepted: %v", q)
			}
		})
		t.Run("fail/wrong_verifier", func(t *testing.T) {
			b := e.newBrowser()
			verifier := oauth2.GenerateVerifier()
			q := b.signIn(conf.AuthCodeURL("state-wrongv-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-abcdefgh")), "alice", testPassword)
			_, err := conf.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
			assertOAuthError(t, err, "invalid_grant")
		})
		t.Run("ok", func(t *testing.T) {
			tok, _ := e.codeFlow(e.newBrowser(), e.public)
			if _, err := e.verifier(e.public.ClientID).Verify(e.ctx(), tok.Extra("id_token").(string)); err != nil {
				t.Fatal(err)
			}
		})
	})
}

func assertOAuthError(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("want OAuth error %s, got %v", code, err)
	}
	if re.ErrorCode != code {
		t.Fatalf("error = %q (%s), want %q", re.ErrorCode, re.ErrorDescription, code)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) storage.Storage) {
		e := newEnv(t, newStore(t)).seed()
		tok, _ := e.codeFlow(e.newBrowser(), e.trusted)
		conf := e.oauth2Config(e.trusted)
		refresh := func(rt string) (*oauth2.Token, error) {
			return conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: rt, Expiry: time.Unix(1, 0)}).Token()
		}
		tok2, err := refresh(tok.RefreshToken)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken {
			t.Fatal("the refresh token was not rotated")
		}
		raw, _ := tok2.Extra("id_token").(string)
		if _, err := e.verifier(e.trusted.ClientID).Verify(e.ctx(), raw); err != nil {
			t.Fatalf("refreshed ID token: %v", err)
		}
		if e.userinfoStatus(tok.AccessToken) != http.StatusUnauthorized {
			t.Error("the access token of the rotated refresh token still works")
		}
		if e.userinfoStatus(tok2.AccessToken) != http.StatusOK {
			t.Fatal("the new access token does not work")
		}

		// Reusing the old refresh token revokes the whole chain.
		_, err = refresh(tok.RefreshToken)
		assertOAuthError(t, err, "invalid_grant")
		_, err = refresh(tok2.RefreshToken)
		assertOAuthError(t, err, "invalid_grant")
		if e.userinfoStatus(tok2.AccessToken) != http.StatusUnauthorized {
			t.Error("the chain's access token survived the reuse")
		}
	})
}

func TestConcurrentRefreshOneWins(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) storage.Storage) {
		e := newEnv(t, newStore(t)).seed()
		tok, _ := e.codeFlow(e.newBrowser(), e.trusted)
		conf := e.oauth2Config(e.trusted)
		const n = 10
		results := make(chan error, n)
		start := make(chan struct{})
		for range n {
			go func() {
				<-start
				_, err := conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
				results <- err
			}()
		}
		close(start)
		ok := 0
		for range n {
			if err := <-results; err == nil {
				ok++
			}
		}
		if ok > 1 {
			t.Fatalf("%d concurrent refreshes with one token succeeded, want at most 1", ok)
		}
	})
}

func (e *env) userinfoStatus(accessToken string) int {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	readBody(e.t, resp)
	return resp.StatusCode
}

func TestClientCredentials(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) storage.Storage) {
		e := newEnv(t, newStore(t)).seed()
		cc := clientcredentials.Config{ClientID: e.machine.ClientID, ClientSecret: e.machine.ClientSecret,
			TokenURL: e.issuer + "/oauth2/token", Scopes: []string{"profile"}}
		tok, err := cc.Token(e.ctx())
		if err != nil {
			t.Fatalf("client credentials: %v", err)
		}
		if tok.RefreshToken != "" {
			t.Error("client credentials must not issue a refresh token")
		}
		in := e.introspect(e.machine, tok.AccessToken)
		if in["active"] != true || in["client_id"] != e.machine.ClientID || in["scope"] != "profile" {
			t.Errorf("introspection = %v", in)
		}
		if e.userinfoStatus(tok.AccessToken) != http.StatusForbidden {
			t.Error("a client credentials token must not read userinfo")
		}

		bad := cc
		bad.ClientSecret = "wrong"
		_, err = bad.Token(e.ctx())
		assertOAuthError(t, err, "invalid_client")

		web := clientcredentials.Config{ClientID: e.web.ClientID, ClientSecret: e.web.ClientSecret, TokenURL: cc.TokenURL, AuthStyle: oauth2.AuthStyleInHeader}
		_, err = web.Token(e.ctx())
		assertOAuthError(t, err, "unauthorized_client")
	})
}

func (e *env) introspect(c adminClient, token string) map[string]any {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/oauth2/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	body := readBody(e.t, resp)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("introspect: %d %s", resp.StatusCode, body)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func TestIntrospectionAndRevocation(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) storage.Storage) {
		e := newEnv(t, newStore(t)).seed()
		tok, _ := e.codeFlow(e.newBrowser(), e.trusted)
		in := e.introspect(e.trusted, tok.AccessToken)
		if in["active"] != true || in["sub"] != e.user.ID {
			t.Fatalf("introspection of a fresh token = %v", in)
		}
		// RFC 7009: revoking the refresh token revokes the grant's access tokens too.
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/oauth2/revoke", strings.NewReader(url.Values{"token": {tok.RefreshToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(e.trusted.ClientID, e.trusted.ClientSecret)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revoke: %d", resp.StatusCode)
		}
		if in := e.introspect(e.trusted, tok.AccessToken); in["active"] != false {
			t.Errorf("access token still active after revoking its refresh token: %v", in)
		}
		if in := e.introspect(e.trusted, tok.RefreshToken); in["active"] != false {
			t.Errorf("refresh token still active after revocation: %v", in)
		}
		_, err = e.oauth2Config(e.trusted).TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
		assertOAuthError(t, err, "invalid_grant")
	})
}

func TestRS256Client(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) storage.Storage) {
		e := newEnv(t, newStore(t)).seed()
		tok, _ := e.codeFlow(e.newBrowser(), e.rsClient)
		raw := tok.Extra("id_token").(string)
		if _, err := e.verifier(e.rsClient.ClientID, "RS256").Verify(e.ctx(), raw); err != nil {
			t.Fatalf("RS256 ID token: %v", err)
		}
		if _, err := e.verifier(e.rsClient.ClientID, "ES256").Verify(e.ctx(), raw); err == nil {
			t.Fatal("an RS256 client got an ES256 token")
		}
	})
}

func TestKeyRotationKeepsOldTokensVerifiable(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) storage.Storage) {
		e := newEnv(t, newStore(t)).seed()
		b := e.newBrowser()
		old, _ := e.codeFlow(b, e.trusted)
		if err := e.p.Keys().Rotate(e.ctx(), ""); err != nil {
			t.Fatalf("rotate: %v", err)
		}
		fresh, _ := e.codeFlowSSO(b, e.trusted)
		oldKid, newKid := kidOf(t, old.Extra("id_token").(string)), kidOf(t, fresh.Extra("id_token").(string))
		if oldKid == newKid {
			t.Fatalf("the new ID token is still signed with %s", oldKid)
		}
		v := e.verifier(e.trusted.ClientID)
		for name, tok := range map[string]*oauth2.Token{"old": old, "new": fresh} {
			if _, err := v.Verify(e.ctx(), tok.Extra("id_token").(string)); err != nil {
				t.Errorf("%s ID token does not verify after rotation: %v", name, err)
			}
		}
	})
}

func kidOf(t *testing.T, jws string) string {
	t.Helper()
	var h struct {
		Kid string `json:"kid"`
	}
	part, _, _ := strings.Cut(jws, ".")
	b, err := jsonBase64(part)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

func TestLogout(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) storage.Storage) {
		e := newEnv(t, newStore(t)).seed()
		b := e.newBrowser()
		tok, _ := e.codeFlow(b, e.trusted)
		hint := tok.Extra("id_token").(string)

		t.Run("fail/unregistered_redirect", func(t *testing.T) {
			resp, _ := b.on(t).get(e.issuer + "/oauth2/logout?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400", resp.StatusCode)
			}
		})
		t.Run("fail/no_hint_needs_confirmation", func(t *testing.T) {
			resp, page := b.on(t).get(e.issuer + "/oauth2/logout")
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, `action="/oauth2/logout"`) {
				t.Fatalf("want a confirmation form, got %d", resp.StatusCode)
			}
			if _, q := e.codeFlowSSO(b, e.trusted); q.Get("code") == "" {
				t.Fatal("showing the confirmation signed the browser out")
			}
		})
		t.Run("ok", func(t *testing.T) {
			resp, _ := b.on(t).get(e.issuer + "/oauth2/logout?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {logoutURL}, "state": {"bye-state"}}.Encode())
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("status = %d, want 303", resp.StatusCode)
			}
			if loc := resp.Header.Get("Location"); loc != logoutURL+"?state=bye-state" {
				t.Fatalf("Location = %q", loc)
			}
			// Signed out: the next authorization asks for the password again.
			conf := e.oauth2Config(e.trusted)
			resp, page := b.on(t).get(conf.AuthCodeURL("state-after-logout", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="password"`) {
				t.Fatalf("after logout want the login page, got %d", resp.StatusCode)
			}
		})
	})
}

func TestPromptAndMaxAge(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) storage.Storage) {
		e := newEnv(t, newStore(t)).seed()
		conf := e.oauth2Config(e.trusted)
		pkce := oauth2.S256ChallengeOption(oauth2.GenerateVerifier())

		t.Run("fail/prompt_none_without_session", func(t *testing.T) {
			resp, _ := e.newBrowser().get(conf.AuthCodeURL("state-none-1", pkce, oauth2.SetAuthURLParam("prompt", "none")))
			if q := callback(t, resp); q.Get("error") != "login_required" || q.Get("state") != "state-none-1" {
				t.Fatalf("callback = %v, want login_required with state", q)
			}
		})
		b := e.newBrowser()
		e.codeFlow(b, e.trusted)
		t.Run("ok/prompt_none_with_session", func(t *testing.T) {
			resp, _ := b.on(t).get(conf.AuthCodeURL("state-none-2", pkce, oauth2.SetAuthURLParam("prompt", "none")))
			if q := callback(t, resp); q.Get("code") == "" {
				t.Fatalf("callback = %v, want a code", q)
			}
		})
		t.Run("fail/prompt_none_needs_consent", func(t *testing.T) {
			resp, _ := b.on(t).get(e.oauth2Config(e.web).AuthCodeURL("state-none-3", pkce, oauth2.SetAuthURLParam("prompt", "none")))
			if q := callback(t, resp); q.Get("error") != "consent_required" {
				t.Fatalf("callback = %v, want consent_required", q)
			}
		})
		for name, param := range map[string]oauth2.AuthCodeOption{
			"prompt_login": oauth2.SetAuthURLParam("prompt", "login"),
			"max_age_0":    oauth2.SetAuthURLParam("max_age", "0"),
		} {
			t.Run("ok/"+name+"_asks_again", func(t *testing.T) {
				verifier := oauth2.GenerateVerifier()
				// Sign-in happens at least a second after the session's auth_time.
				waitNextSecond()
				q := b.on(t).signIn(conf.AuthCodeURL("state-again-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-again-1"), param), "alice", testPassword)
				tok, err := conf.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(verifier))
				if err != nil {
					t.Fatalf("exchange: %v", err)
				}
				if _, err := e.verifier(e.trusted.ClientID).Verify(e.ctx(), tok.Extra("id_token").(string)); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
}

// waitNextSecond returns once the wall clock has entered a new second, so that an
// auth_time (whole seconds) taken after it is later than one taken before.
func waitNextSecond() {
	start := time.Now().Unix()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Unix() == start && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t, memoryStore())
	resp, body := e.newBrowser().get(e.issuer + "/.well-known/openid-configuration")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: %d", resp.StatusCode)
	}
	var d struct {
		Issuer      string   `json:"issuer"`
		DeviceAuth  string   `json:"device_authorization_endpoint"`
		EndSession  string   `json:"end_session_endpoint"`
		GrantTypes  []string `json:"grant_types_supported"`
		PKCEMethods []string `json:"code_challenge_methods_supported"`
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if d.Issuer != e.issuer || d.DeviceAuth != e.issuer+"/oauth2/device/auth" || d.EndSession != e.issuer+"/oauth2/logout" {
		t.Errorf("discovery endpoints = %+v", d)
	}
	for _, g := range []string{"authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code"} {
		if !slices.Contains(d.GrantTypes, g) {
			t.Errorf("grant_types_supported %v lacks %s", d.GrantTypes, g)
		}
	}
	if !slices.Equal(d.PKCEMethods, []string{"S256"}) {
		t.Errorf("code_challenge_methods_supported = %v, want only S256", d.PKCEMethods)
	}
}
