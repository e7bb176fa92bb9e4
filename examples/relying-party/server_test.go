package main

import (
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// site is the relying party under test, served on a real listener, and a browser
// for it: a client with a cookie jar that does not follow redirects, so every hop
// can be checked.
type site struct {
	t       *testing.T
	url     string
	browser *http.Client
}

func newSite(t *testing.T, issuer, secret string) *site {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	h, err := newServer(config{Issuer: issuer, ClientID: fakeClientID, ClientSecret: secret, RedirectURL: base + "/callback"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &site{t: t, url: base, browser: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type page struct {
	status   int
	body     string
	location *url.URL
	header   http.Header
}

func (s *site) do(method, rawURL string) page {
	s.t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	res, err := s.browser.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	p := page{status: res.StatusCode, body: string(b), header: res.Header}
	if loc := res.Header.Get("Location"); loc != "" {
		p.location, err = res.Location()
		if err != nil {
			s.t.Fatal(err)
		}
	}
	return p
}

func (s *site) get(rawURL string) page { return s.do(http.MethodGet, rawURL) }

// redirected asserts a redirect and returns its target.
func redirected(t *testing.T, p page, what string) *url.URL {
	t.Helper()
	if p.status < 300 || p.status > 399 || p.location == nil {
		t.Fatalf("%s: status %d, want a redirect; body:\n%s", what, p.status, p.body)
	}
	return p.location
}

func TestFlow(t *testing.T) {
	op := newFakeOP(t)
	s := newSite(t, op.srv.URL, op.secret)

	home := s.get(s.url + "/")
	if home.status != http.StatusOK || !strings.Contains(home.body, `href="/login"`) || !strings.Contains(home.body, "Log in with qrid") {
		t.Fatalf("home: status %d, no login button:\n%s", home.status, home.body)
	}
	if csp := home.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}

	// /login: flow cookies, then the authorization request.
	login := s.get(s.url + "/login")
	authz := redirected(t, login, "login")
	if got, want := authz.Scheme+"://"+authz.Host+authz.Path, op.srv.URL+"/authorize"; got != want {
		t.Fatalf("login redirects to %s, want %s", got, want)
	}
	q := authz.Query()
	for k, want := range map[string]string{
		"response_type":         "code",
		"client_id":             fakeClientID,
		"redirect_uri":          s.url + "/callback",
		"scope":                 "openid profile email",
		"code_challenge_method": "S256",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("authorize %s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) < 20 {
			t.Errorf("authorize %s = %q, want a long random value", k, q.Get(k))
		}
	}
	if q.Get("state") == q.Get("nonce") {
		t.Error("state and nonce are the same value")
	}
	flow := map[string]bool{cookieState: false, cookieNonce: false, cookieVerifier: false}
	for _, line := range login.header.Values("Set-Cookie") {
		name, _, _ := strings.Cut(line, "=")
		if _, ok := flow[name]; !ok {
			continue
		}
		flow[name] = true
		for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Max-Age=600"} {
			if !strings.Contains(line, attr) {
				t.Errorf("cookie %s lacks %s: %s", name, attr, line)
			}
		}
	}
	for name, set := range flow {
		if !set {
			t.Errorf("login did not set the cookie %s", name)
		}
	}

	// qrid approves; the callback exchanges the code and signs in.
	callback := redirected(t, s.get(authz.String()), "authorize")
	back := redirected(t, s.get(callback.String()), "callback")
	if back.Path != "/" {
		t.Fatalf("callback redirects to %s, want /", back)
	}
	idToken := op.lastIDToken()
	if idToken == "" {
		t.Fatal("no ID token was issued")
	}
	for _, c := range s.browser.Jar.Cookies(mustParse(t, s.url)) {
		if strings.Contains(c.Value, idToken) || strings.Count(c.Value, ".") == 2 {
			t.Errorf("cookie %s holds a token: %q", c.Name, c.Value)
		}
		if c.Name == cookieState || c.Name == cookieNonce || c.Name == cookieVerifier {
			t.Errorf("flow cookie %s survives the callback", c.Name)
		}
	}

	signedIn := s.get(s.url + "/")
	for _, want := range []string{
		"Signed in as Ada Lovelace",
		"<code>sub</code></th><td>" + fakeSub + "</td>",
		"<td>ada@example.com</td>",
		"<td>qr, hwk</td>",
		"<code>auth_time</code></th><td>" + op.now.UTC().Format("Mon 2 Jan 2006 15:04:05 UTC") + "</td>",
		"<code>email_verified</code></th><td>true</td>",
		`action="/logout"`,
	} {
		if !strings.Contains(signedIn.body, want) {
			t.Errorf("signed-in home lacks %q:\n%s", want, signedIn.body)
		}
	}

	// Replaying the callback (the code and the state are used once) signs nobody in.
	if p := s.get(callback.String()); p.status != http.StatusBadRequest {
		t.Errorf("replayed callback: status %d, want 400", p.status)
	}

	// Logout: RP-initiated logout at the provider, then back home signed out.
	endSession := redirected(t, s.do(http.MethodPost, s.url+"/logout"), "logout")
	if got, want := endSession.Scheme+"://"+endSession.Host+endSession.Path, op.srv.URL+"/logout"; got != want {
		t.Fatalf("logout redirects to %s, want %s", got, want)
	}
	lq := endSession.Query()
	if lq.Get("id_token_hint") != idToken {
		t.Errorf("id_token_hint = %q, want the ID token issued", lq.Get("id_token_hint"))
	}
	if got, want := lq.Get("post_logout_redirect_uri"), s.url+"/"; got != want {
		t.Errorf("post_logout_redirect_uri = %q, want %q", got, want)
	}
	if lq.Get("client_id") != fakeClientID || lq.Get("state") == "" {
		t.Errorf("end_session query %v lacks client_id or state", lq)
	}
	afterLogout := redirected(t, s.get(endSession.String()), "end_session")
	signedOut := s.get(afterLogout.String())
	if !strings.Contains(signedOut.body, "You are signed out") || strings.Contains(signedOut.body, "Signed in as") {
		t.Errorf("home after logout:\n%s", signedOut.body)
	}
	if p := s.get(s.url + "/"); strings.Contains(p.body, "Signed in as") || !strings.Contains(p.body, "Log in with qrid") {
		t.Errorf("home after logout shows a session:\n%s", p.body)
	}
}

func TestCallbackWrongState(t *testing.T) {
	op := newFakeOP(t)
	s := newSite(t, op.srv.URL, op.secret)
	authz := redirected(t, s.get(s.url+"/login"), "login")
	callback := redirected(t, s.get(authz.String()), "authorize")
	q := callback.Query()
	q.Set("state", "forged-"+q.Get("state"))
	callback.RawQuery = q.Encode()

	p := s.get(callback.String())
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "state does not match") {
		t.Errorf("status %d, body:\n%s", p.status, p.body)
	}
	if op.tokenRequests() != 0 {
		t.Errorf("the code was exchanged %d times despite the wrong state", op.tokenRequests())
	}
	if p := s.get(s.url + "/"); strings.Contains(p.body, "Signed in as") {
		t.Error("signed in after a wrong state")
	}
}

func TestCallbackWithoutLogin(t *testing.T) {
	op := newFakeOP(t)
	s := newSite(t, op.srv.URL, op.secret)
	p := s.get(s.url + "/callback?code=abc&state=xyz")
	if p.status != http.StatusBadRequest {
		t.Errorf("status %d, want 400", p.status)
	}
}

func TestAccessDenied(t *testing.T) {
	op := newFakeOP(t)
	op.set(func(op *fakeOP) { op.deny = true })
	s := newSite(t, op.srv.URL, op.secret)
	authz := redirected(t, s.get(s.url+"/login"), "login")
	callback := redirected(t, s.get(authz.String()), "authorize")
	p := s.get(callback.String())
	for _, want := range []string{"Sign-in was refused", "access_denied", "The person refused the sign-in on the phone."} {
		if !strings.Contains(p.body, want) {
			t.Errorf("error page lacks %q:\n%s", want, p.body)
		}
	}
	if p.status != http.StatusBadRequest {
		t.Errorf("status %d, want 400", p.status)
	}
	if op.tokenRequests() != 0 {
		t.Errorf("token endpoint called %d times", op.tokenRequests())
	}
}

func TestNonceMismatch(t *testing.T) {
	op := newFakeOP(t)
	op.set(func(op *fakeOP) { op.badNonce = true })
	s := newSite(t, op.srv.URL, op.secret)
	authz := redirected(t, s.get(s.url+"/login"), "login")
	callback := redirected(t, s.get(authz.String()), "authorize")
	p := s.get(callback.String())
	if p.status != http.StatusBadGateway || !strings.Contains(p.body, "nonce does not match") {
		t.Errorf("status %d, body:\n%s", p.status, p.body)
	}
	if p := s.get(s.url + "/"); strings.Contains(p.body, "Signed in as") {
		t.Error("signed in with a foreign nonce")
	}
}

func TestWrongClientSecret(t *testing.T) {
	op := newFakeOP(t)
	s := newSite(t, op.srv.URL, "not-the-secret")
	authz := redirected(t, s.get(s.url+"/login"), "login")
	callback := redirected(t, s.get(authz.String()), "authorize")
	p := s.get(callback.String())
	if p.status != http.StatusBadGateway || !strings.Contains(p.body, "invalid_client") {
		t.Errorf("status %d, body:\n%s", p.status, p.body)
	}
}

func TestProviderDown(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	issuer := down.URL
	down.Close() // nothing listens there any more

	s := newSite(t, issuer, "s3cret")
	if p := s.get(s.url + "/"); p.status != http.StatusOK {
		t.Errorf("home without qrid: status %d", p.status)
	}
	p := s.get(s.url + "/login")
	if p.status != http.StatusBadGateway || !strings.Contains(p.body, "qrid is not reachable") || !strings.Contains(p.body, "serve --dev") {
		t.Errorf("status %d, body:\n%s", p.status, p.body)
	}
}

func TestDiscoveryRetriedAfterFailure(t *testing.T) {
	op := newFakeOP(t)
	op.set(func(op *fakeOP) { op.down = true })
	s := newSite(t, op.srv.URL, op.secret)
	if p := s.get(s.url + "/login"); p.status != http.StatusBadGateway {
		t.Fatalf("first login: status %d, want 502", p.status)
	}
	op.set(func(op *fakeOP) { op.down = false })
	redirected(t, s.get(s.url+"/login"), "second login")
}

func TestCanonicalHost(t *testing.T) {
	h, err := newServer(config{Issuer: "http://localhost:8080", ClientID: "demo", ClientSecret: "x", RedirectURL: "http://localhost:9090/callback"})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/login"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9090"+path, nil))
		if got, want := rec.Header().Get("Location"), "http://localhost:9090"+path; rec.Code != http.StatusFound || got != want {
			t.Errorf("%s: status %d, Location %q, want 302 to %q", path, rec.Code, got, want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	env := map[string]string{"RP_CLIENT_SECRET": "from-env", "RP_ISSUER": "http://qrid.test:8080"}
	cfg, err := parseConfig([]string{"--issuer", "http://flag.test"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientSecret != "from-env" || cfg.Issuer != "http://flag.test" || cfg.ClientID != "demo" ||
		cfg.Addr != "127.0.0.1:9090" || cfg.RedirectURL != "http://localhost:9090/callback" {
		t.Errorf("config %+v", cfg)
	}

	_, err = parseConfig(nil, func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "RP_CLIENT_SECRET") {
		t.Errorf("missing secret: err %v", err)
	}
	_, err = parseConfig([]string{"--client-secret", "x", "--redirect-url", "/callback", "--issuer", "localhost"}, func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--redirect-url") || !strings.Contains(err.Error(), "--issuer") {
		t.Errorf("bad URLs: err %v", err)
	}
	if _, err := parseConfig([]string{"-h"}, func(string) string { return "" }, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: err %v", err)
	}
}

func TestClaimRows(t *testing.T) {
	auth := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	rows := claimRows(map[string]any{
		"zeta": "last", "sub": "s", "auth_time": float64(auth.Unix()), "amr": []any{"qr"}, "big": float64(1234567890123),
	})
	var got []string
	for _, r := range rows {
		got = append(got, r.Name+"="+r.Value)
	}
	want := []string{"sub=s", "amr=qr", "auth_time=Wed 4 Mar 2026 05:06:07 UTC", "big=1234567890123", "zeta=last"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("rows %v, want %v", got, want)
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
