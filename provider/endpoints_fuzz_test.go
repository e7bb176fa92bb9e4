package provider_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/oauth2"

	"github.com/qrid/qrid/grants/qr"
	"github.com/qrid/qrid/provider"
	"github.com/qrid/qrid/provider/admin"
	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
)

// The fuzz targets of the public endpoints that read outside input. Each builds one
// provider per fuzz run (fuzzSite) and serves every input straight to its public
// handler. Bodies may carry placeholders ($TRUSTED_ID, $CSRF, $DEVICE_CODE, ...) that
// are replaced by live values of that provider, so the fuzzer can reach past client
// authentication, CSRF and the sealed request.

const fuzzIssuer = "http://qrid.fuzz.test"

// fuzzSite is a provider with one user, the clients of every kind, a signed-in
// browser and a pending device authorization.
type fuzzSite struct {
	p       *provider.Provider
	h       http.Handler
	store   storage.Storage
	trusted admin.ClientInfo // confidential, first party
	web     admin.ClientInfo // confidential, needs consent
	public  admin.ClientInfo // public (PKCE), first party
	machine admin.ClientInfo // client_credentials only
	device  admin.ClientInfo // confidential, device_code, number matching
	cli     admin.ClientInfo // public, device_code, first party
	// The signed-in browser: its cookies, CSRF token and sealed requests (authz) of
	// login pages for trusted and web.
	csrfCookie, sessionCookie *http.Cookie
	csrf, authz, authzWeb     string
	deviceCode                string
	// values replaces the placeholders of fuzzed bodies.
	values *strings.Replacer
}

// fuzzPassword is alice's password; her hash has small argon2 parameters so that a
// correct guess costs little.
const fuzzPassword = "correct horse battery staple"

func newFuzzSite(f *testing.F) *fuzzSite {
	f.Helper()
	ctx := context.Background()
	store := memory.New()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	p, err := provider.New(ctx, provider.Config{
		Issuer: fuzzIssuer, Dev: true, Secret: []byte(base64.RawURLEncoding.EncodeToString(secret)),
		AdminToken: "admin-token", Logger: slog.New(slog.DiscardHandler),
	}, store)
	if err != nil {
		f.Fatalf("provider.New: %v", err)
	}
	f.Cleanup(p.Close)
	s := &fuzzSite{p: p, h: p.PublicHandler(), store: store}

	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(fuzzPassword), salt, 1, 64, 1, 32)
	hash := fmt.Sprintf("$argon2id$v=%d$m=64,t=1,p=1$%s$%s", argon2.Version,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
	if err := store.CreateUser(ctx, storage.User{ID: "user-alice", Username: "alice", PasswordHash: hash,
		Name: "Alice", Email: "alice@example.com", CreatedAt: time.Now()}); err != nil {
		f.Fatal(err)
	}
	mk := func(m admin.ClientMetadata) admin.ClientInfo {
		c, err := p.Admin().CreateClient(ctx, m)
		if err != nil {
			f.Fatalf("create client %s: %v", m.ClientName, err)
		}
		return c
	}
	s.trusted = mk(admin.ClientMetadata{ClientName: "Trusted", RedirectURIs: []string{callbackURL}, FirstParty: true})
	s.web = mk(admin.ClientMetadata{ClientName: "Web Shop", RedirectURIs: []string{callbackURL}})
	s.public = mk(admin.ClientMetadata{ClientName: "Native", RedirectURIs: []string{callbackURL},
		TokenEndpointAuthMethod: "none", FirstParty: true})
	s.machine = mk(admin.ClientMetadata{ClientName: "Batch job", GrantTypes: []string{"client_credentials"}, Scope: "profile email"})
	s.device = mk(admin.ClientMetadata{ClientName: "TV", GrantTypes: []string{qr.GrantTypeDeviceCode, "refresh_token"}})
	s.cli = mk(admin.ClientMetadata{ClientName: "CLI", GrantTypes: []string{qr.GrantTypeDeviceCode},
		TokenEndpointAuthMethod: "none", FirstParty: true})

	// A login page gives the browser its CSRF cookie and the sealed request.
	page := func(c admin.ClientInfo) (string, string) {
		q := url.Values{"client_id": {c.ClientID}, "response_type": {"code"}, "scope": {"openid profile"},
			"redirect_uri": {callbackURL}, "state": {"state-fuzz-0001"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
		r := httptest.NewRequest(http.MethodGet, "/oauth2/auth?"+q.Encode(), nil)
		if s.csrfCookie != nil {
			r.AddCookie(s.csrfCookie)
		}
		rec := httptest.NewRecorder()
		s.h.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			f.Fatalf("login page: %d: %s", rec.Code, rec.Body)
		}
		for _, c := range rec.Result().Cookies() {
			if c.Name == "qrid_csrf" {
				s.csrfCookie = &http.Cookie{Name: c.Name, Value: c.Value}
			}
		}
		v := hiddenFields(f, rec.Body.String())
		return v.Get("csrf"), v.Get("authz")
	}
	s.csrf, s.authz = page(s.trusted)
	_, s.authzWeb = page(s.web)

	// Sign the browser in with the password form.
	form := url.Values{"csrf": {s.csrf}, "authz": {s.authz}, "username": {"alice"}, "password": {fuzzPassword}}
	r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(s.csrfCookie)
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, r)
	for _, c := range rec.Result().Cookies() {
		if c.Name == "qrid_session" && c.Value != "" {
			s.sessionCookie = &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	if s.sessionCookie == nil {
		f.Fatalf("sign-in failed: %d: %s", rec.Code, rec.Body)
	}

	// A pending device authorization of the device client.
	r = httptest.NewRequest(http.MethodPost, "/oauth2/device/auth", strings.NewReader("scope=openid"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(s.device.ClientID, s.device.ClientSecret)
	rec = httptest.NewRecorder()
	s.h.ServeHTTP(rec, r)
	var da struct {
		DeviceCode string `json:"device_code"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &da); err != nil || da.DeviceCode == "" {
		f.Fatalf("device authorization: %d: %s", rec.Code, rec.Body)
	}
	s.deviceCode = da.DeviceCode

	q := url.QueryEscape
	s.values = strings.NewReplacer(
		"$TRUSTED_ID", q(s.trusted.ClientID), "$TRUSTED_SECRET", q(s.trusted.ClientSecret),
		"$WEB_ID", q(s.web.ClientID), "$WEB_SECRET", q(s.web.ClientSecret),
		"$PUBLIC_ID", q(s.public.ClientID),
		"$MACHINE_ID", q(s.machine.ClientID), "$MACHINE_SECRET", q(s.machine.ClientSecret),
		"$DEVICE_ID", q(s.device.ClientID), "$DEVICE_SECRET", q(s.device.ClientSecret),
		"$CLI_ID", q(s.cli.ClientID),
		"$DEVICE_CODE", q(s.deviceCode), "$CALLBACK", q(callbackURL),
		"$CSRF", q(s.csrf), "$AUTHZ_WEB", q(s.authzWeb), "$AUTHZ", q(s.authz),
	)
	return s
}

// basicAuth is the credentials an input picks by number: none, or one client's.
func (s *fuzzSite) basicAuth(n uint8) (id, secret string) {
	switch n % 8 {
	case 1:
		return s.trusted.ClientID, s.trusted.ClientSecret
	case 2:
		return s.machine.ClientID, s.machine.ClientSecret
	case 3:
		return s.device.ClientID, s.device.ClientSecret
	case 4:
		return s.trusted.ClientID, "wrong-secret"
	case 5:
		return s.web.ClientID, s.web.ClientSecret
	case 6:
		return s.public.ClientID, ""
	case 7:
		return s.cli.ClientID, ""
	}
	return "", ""
}

// serve sends one request to the public handler. The context ends after a short
// while so that a long-poll does not hold the fuzzer.
func (s *fuzzSite) serve(t *testing.T, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	r = r.WithContext(ctx)
	r.RemoteAddr = "192.0.2.1:1234"
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, r)
	if rec.Code >= 500 {
		t.Fatalf("%s %s: status %d: %s", r.Method, r.URL, rec.Code, rec.Body)
	}
	return rec
}

// post builds a POST with a fuzzed body and content type.
func (s *fuzzSite) post(path, contentType string, body []byte, auth uint8) (*http.Request, []byte, string) {
	body = []byte(s.values.Replace(string(body)))
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	id, secret := s.basicAuth(auth)
	if id != "" {
		r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return r, body, id
}

// jsonAnswer checks that an answer is a JSON object (an OAuth error object when it
// is not a success) and returns it.
func jsonAnswer(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("status %d with Content-Type %q: %s", rec.Code, ct, rec.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("status %d: the answer is not a JSON object: %v: %s", rec.Code, err, rec.Body)
	}
	if rec.Code >= 400 {
		if e, _ := body["error"].(string); e == "" {
			t.Fatalf("status %d without an error code: %s", rec.Code, rec.Body)
		}
	}
	return body
}

// formOf parses a fuzzed form body the way net/http does.
func formOf(body []byte) url.Values {
	v, _ := url.ParseQuery(string(body))
	return v
}

// FuzzTokenEndpoint posts arbitrary bodies and content types to /oauth2/token, with
// or without a client's credentials: never a 5xx, every answer is JSON, and tokens
// come only from client_credentials by the machine client (no input here carries a
// code, a refresh token or an approved device code) and never with a refresh token or
// an ID token.
func FuzzTokenEndpoint(f *testing.F) {
	s := newFuzzSite(f)
	form := "application/x-www-form-urlencoded"
	for _, seed := range []struct {
		ct   string
		auth uint8
		body string
	}{
		{form, 2, "grant_type=client_credentials&scope=profile"},
		{form, 0, "grant_type=client_credentials&client_id=$MACHINE_ID&client_secret=$MACHINE_SECRET&scope=email+profile"},
		{form, 2, "grant_type=client_credentials&scope=openid+offline_access"},
		{form, 1, "grant_type=client_credentials"},
		{form, 1, "grant_type=authorization_code&code=abc.def&redirect_uri=$CALLBACK&code_verifier=x"},
		{form, 0, "grant_type=authorization_code&client_id=$PUBLIC_ID&code=a&code_verifier=b&redirect_uri=$CALLBACK"},
		{form, 1, "grant_type=refresh_token&refresh_token=%00%ff"},
		{form, 3, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=$DEVICE_CODE"},
		{form, 3, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=$DEVICE_CODE&wait=1"},
		{form, 7, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=$DEVICE_CODE&client_id=$CLI_ID"},
		{form, 3, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=x&wait=-1"},
		{form, 2, "grant_type=client_credentials&grant_type=client_credentials"},
		{form + "; charset=utf-8", 4, "grant_type=client_credentials"},
		{"application/json", 2, `{"grant_type":"client_credentials"}`},
		{"", 0, ""},
		{form, 0, "%zz"},
		{form, 5, "grant_type=password&username=alice&password=x"},
	} {
		f.Add(seed.ct, seed.auth, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, contentType string, auth uint8, body []byte) {
		r, sent, id := s.post("/oauth2/token", contentType, body, auth)
		rec := s.serve(t, r)
		if rec.Code == http.StatusOK && rec.Body.Len() == 0 {
			return // a long-poll the fuzzer's deadline ended: no answer
		}
		answer := jsonAnswer(t, rec)
		if rec.Code >= 300 {
			return
		}
		v := formOf(sent)
		if id == "" {
			id = v.Get("client_id")
		}
		if v.Get("grant_type") != "client_credentials" || id != s.machine.ClientID {
			t.Fatalf("tokens issued to %q for grant %q: %s", id, v.Get("grant_type"), rec.Body)
		}
		if tok, _ := answer["access_token"].(string); tok == "" || !strings.EqualFold(fmt.Sprint(answer["token_type"]), "bearer") {
			t.Fatalf("a success without a bearer access token: %s", rec.Body)
		}
		if answer["refresh_token"] != nil || answer["id_token"] != nil {
			t.Fatalf("client_credentials issued a refresh or ID token: %s", rec.Body)
		}
	})
}

// FuzzDeviceAuthorization posts arbitrary bodies and content types to
// /oauth2/device/auth: never a 5xx, every answer is JSON, a refused request starts
// no QR session, and a device authorization is issued only to a client with the
// device_code grant, with the RFC 8628 fields well formed.
func FuzzDeviceAuthorization(f *testing.F) {
	s := newFuzzSite(f)
	form := "application/x-www-form-urlencoded"
	for _, seed := range []struct {
		ct   string
		auth uint8
		body string
	}{
		{form, 3, "scope=openid+profile"},
		{form, 0, "client_id=$DEVICE_ID"},
		{form, 0, "client_id=$CLI_ID&scope=openid"},
		{form, 0, "client_id=$DEVICE_ID&client_secret=wrong"},
		{form, 0, "client_id=$DEVICE_ID&client_secret=$DEVICE_SECRET&scope=openid+offline_access"},
		{form, 1, "scope=openid"},
		{form, 0, "client_id=$TRUSTED_ID"},
		{form, 3, "scope=openid+admin"},
		{form, 3, "scope=openid&scope=profile"},
		{form, 0, "client_id=ghost"},
		{form, 4, ""},
		{"application/json", 3, `{"scope":"openid"}`},
		{"", 0, ""},
		{form, 0, "client_id=%zz"},
		{form, 7, "client_assertion=x&client_id=$CLI_ID"},
	} {
		f.Add(seed.ct, seed.auth, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, contentType string, auth uint8, body []byte) {
		pending := func() (n int) {
			for _, c := range []string{s.device.ClientID, s.cli.ClientID} {
				k, err := s.store.CountPendingQRSessions(t.Context(), c, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				n += k
			}
			return n
		}
		before := pending()
		r, sent, id := s.post("/oauth2/device/auth", contentType, body, auth)
		rec := s.serve(t, r)
		answer := jsonAnswer(t, rec)
		if rec.Code >= 300 {
			if after := pending(); after != before {
				t.Fatalf("a refused device authorization (%d) started %d sessions", rec.Code, after-before)
			}
			return
		}
		if after := pending(); after != before+1 {
			t.Fatalf("a device authorization started %d sessions", after-before)
		}
		if id == "" {
			id = formOf(sent).Get("client_id")
		}
		if id != s.device.ClientID && id != s.cli.ClientID {
			t.Fatalf("a device authorization for %q: %s", id, rec.Body)
		}
		str := func(k string) string { v, _ := answer[k].(string); return v }
		if str("device_code") == "" || qr.NormalizeUserCode(str("user_code")) == "" ||
			str("verification_uri") != fuzzIssuer+"/device" || !strings.HasPrefix(str("verification_uri_complete"), fuzzIssuer+"/q/") ||
			!strings.HasPrefix(str("qr_image_uri"), fuzzIssuer+"/qr/") {
			t.Fatalf("malformed device authorization: %s", rec.Body)
		}
		if n, _ := answer["expires_in"].(float64); n <= 0 {
			t.Fatalf("expires_in %v: %s", answer["expires_in"], rec.Body)
		}
		if n, _ := answer["interval"].(float64); n <= 0 {
			t.Fatalf("interval %v: %s", answer["interval"], rec.Body)
		}
		if (str("match_code") != "") != (id == s.device.ClientID) {
			t.Fatalf("match_code must be sent exactly for clients that are not first party: %s", rec.Body)
		}
	})
}

// FuzzAuthorize sends arbitrary raw queries to /oauth2/auth from an anonymous or a
// signed-in browser: never a 5xx, never a redirect anywhere but the registered
// callback, and a code only for a signed-in browser and a first-party client (no
// consent is ever given here).
func FuzzAuthorize(f *testing.F) {
	s := newFuzzSite(f)
	// Seeds name clients by placeholder ($TRUSTED_ID, ...) so that mutations keep them.
	base := func(client, extra string) string {
		q := url.Values{"client_id": {"CLIENT"}, "response_type": {"code"}, "scope": {"openid profile"},
			"redirect_uri": {"CALLBACK"}, "state": {"state-fuzz-0001"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier("fuzz-verifier-0123456789-0123456789-0123456789")}, "code_challenge_method": {"S256"}}
		return strings.NewReplacer("CLIENT", client, "CALLBACK", "$CALLBACK").Replace(q.Encode()) + extra
	}
	for _, seed := range []string{
		base("$TRUSTED_ID", ""),
		base("$WEB_ID", ""),
		base("$PUBLIC_ID", ""),
		base("$TRUSTED_ID", "&prompt=none"),
		base("$WEB_ID", "&prompt=none"),
		base("$WEB_ID", "&prompt=consent"),
		base("$TRUSTED_ID", "&prompt=login&max_age=0"),
		base("$TRUSTED_ID", "&max_age=-1"),
		base("$TRUSTED_ID", "&id_token_hint=a.b.c"),
		base("$TRUSTED_ID", "&response_mode=fragment"),
		base("$TRUSTED_ID", "&response_mode=form_post"),
		base("$TRUSTED_ID", "&redirect_uri=https%3A%2F%2Fevil.example%2Fcb"),
		base("$TRUSTED_ID", "&redirect_uri=$CALLBACK%2Fmore"),
		base("$TRUSTED_ID", "&redirect_uri=$CALLBACK%3Fnext%3Dhttps%3A%2F%2Fevil.example"),
		base("$MACHINE_ID", ""),
		"client_id=$PUBLIC_ID&response_type=code&scope=openid&redirect_uri=$CALLBACK&state=state-fuzz-0002",
		"client_id=ghost&redirect_uri=https%3A%2F%2Fevil.example%2F&response_type=code&scope=openid",
		"client_id=$TRUSTED_ID&response_type=token&scope=openid&redirect_uri=$CALLBACK",
		"client_id=$TRUSTED_ID&response_type=code&scope=openid&redirect_uri=$CALLBACK&state=s",
		"",
		"%zz;;&&==",
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	firstParty := map[string]bool{s.trusted.ClientID: true, s.public.ClientID: true}
	f.Fuzz(func(t *testing.T, rawQuery string, signedIn bool) {
		rawQuery = s.values.Replace(rawQuery)
		r := (&http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/oauth2/auth", RawQuery: rawQuery},
			Header: http.Header{}, Host: "qrid.fuzz.test", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Body: http.NoBody})
		r.AddCookie(s.csrfCookie)
		if signedIn {
			r.AddCookie(s.sessionCookie)
		}
		rec := s.serve(t, r)
		loc := rec.Header().Get("Location")
		if rec.Code >= 300 && rec.Code < 400 && loc == "" {
			t.Fatalf("redirect %d without a Location", rec.Code)
		}
		checkFormPost(t, rec)
		if loc == "" {
			return
		}
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatalf("unparsable Location %q: %v", loc, err)
		}
		if got := u.Scheme + "://" + u.Host + u.Path; got != callbackURL || u.User != nil {
			t.Fatalf("redirected to %q, which is not the registered callback", loc)
		}
		answer := u.Query()
		if frag, err := url.ParseQuery(u.Fragment); err == nil {
			for k, v := range frag {
				answer[k] = v
			}
		}
		if answer.Get("code") != "" {
			asked, _ := url.ParseQuery(rawQuery)
			if !signedIn || !firstParty[asked.Get("client_id")] {
				t.Fatalf("a code for client %q (signed in: %v) without consent: %q", asked.Get("client_id"), signedIn, loc)
			}
		}
	})
}

// formPostAction finds the target of a response_mode=form_post answer.
var formPostAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)

// checkFormPost checks that a page's POST forms go to qrid's own login and consent
// forms or, for a form_post answer (a redirect in the form of a page), to the
// registered callback only.
func checkFormPost(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	for _, m := range formPostAction.FindAllStringSubmatch(rec.Body.String(), -1) {
		target := html.UnescapeString(m[1])
		u, err := url.Parse(target)
		if err == nil && (target == "/login" || target == "/consent") {
			continue // qrid's own forms
		}
		if err != nil || u.Scheme+"://"+u.Host+u.Path != callbackURL || u.User != nil {
			t.Fatalf("form_post to %q, which is not the registered callback", target)
		}
	}
}

// FuzzLoginForm posts arbitrary bodies and content types to /login from a browser
// with a CSRF cookie (the body may name its token and a sealed request as $CSRF,
// $AUTHZ and $AUTHZ_WEB): never a 5xx, never a redirect but to the registered
// callback, and a session only for alice's password sent with this browser's token.
func FuzzLoginForm(f *testing.F) {
	s := newFuzzSite(f)
	form := "application/x-www-form-urlencoded"
	for _, seed := range []struct {
		ct, body string
	}{
		{form, "csrf=$CSRF&authz=$AUTHZ&username=alice&password=correct+horse+battery+staple"},
		{form, "csrf=$CSRF&authz=$AUTHZ_WEB&username=+ALICE+&password=correct+horse+battery+staple"},
		{form, "csrf=$CSRF&authz=$AUTHZ&username=alice&password=wrong"},
		{form, "csrf=$CSRF&authz=$AUTHZ&username=mallory&password=x"},
		{form, "csrf=$CSRF&authz=$AUTHZ&username=&password="},
		{form, "csrf=$CSRF&authz=$AUTHZx&username=alice&password=x"},
		{form, "csrf=$CSRF&authz=$AUTHZ&authz=$AUTHZ_WEB&username=alice&password=x"},
		{form, "csrf=x&authz=$AUTHZ&username=alice&password=correct+horse+battery+staple"},
		{form, "authz=$AUTHZ&username=alice&password=correct+horse+battery+staple"},
		{form, "csrf=$CSRF&authz=e30.AAAA&username=alice&password=x"},
		{form, "csrf=$CSRF&authz=.&username=alice&password=x"},
		{"application/json", `{"username":"alice"}`},
		{"", ""},
		{form, "%zz"},
	} {
		f.Add(seed.ct, []byte(seed.body), true)
	}
	f.Add(form, []byte("csrf=$CSRF&authz=$AUTHZ&username=alice&password=correct+horse+battery+staple"), false)
	f.Fuzz(func(t *testing.T, contentType string, body []byte, withCookie bool) {
		r, sent, _ := s.post("/login", contentType, body, 0)
		if withCookie {
			r.AddCookie(s.csrfCookie)
		}
		rec := s.serve(t, r)
		signedIn := false
		for _, c := range rec.Result().Cookies() {
			if c.Name == "qrid_session" && c.Value != "" && c.MaxAge >= 0 {
				signedIn = true
			}
		}
		if signedIn {
			v := formOf(sent)
			if !withCookie || v.Get("csrf") != s.csrf || admin.NormalizeUsername(v.Get("username")) != "alice" || v.Get("password") != fuzzPassword {
				t.Fatalf("signed in by %q (status %d)", sent, rec.Code)
			}
			if rec.Code >= 400 {
				t.Fatalf("a session cookie with status %d", rec.Code)
			}
		}
		if loc := rec.Header().Get("Location"); loc != "" {
			u, err := url.Parse(loc)
			if err != nil || u.Scheme+"://"+u.Host+u.Path != callbackURL {
				t.Fatalf("redirected to %q", loc)
			}
		}
		checkFormPost(t, rec)
	})
}
