package provider_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/qrid/qrid/provider"
	"github.com/qrid/qrid/provider/admin"
	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
	"github.com/qrid/qrid/storage/postgres"
)

const (
	testPassword = "correct horse battery staple"
	callbackURL  = "http://127.0.0.1:9999/callback"
	logoutURL    = "http://127.0.0.1:9999/bye"
)

// backends runs a test on the memory store and on PostgreSQL.
func backends(t *testing.T, test func(t *testing.T, newStore func(t *testing.T) storage.Storage)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		test(t, func(*testing.T) storage.Storage { return memory.New() })
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		test(t, func(t *testing.T) storage.Storage { return postgres.NewTestStore(t) })
	})
}

// env is a running qrid with one user and a few clients.
type env struct {
	t        *testing.T
	srv      *httptest.Server
	p        *provider.Provider
	store    storage.Storage
	issuer   string
	secret   []byte
	user     admin.UserInfo
	web      admin.ClientInfo // confidential, needs consent
	trusted  admin.ClientInfo // confidential, first party
	public   admin.ClientInfo // public (PKCE), first party
	machine  admin.ClientInfo // client_credentials only
	rsClient admin.ClientInfo // confidential, RS256 ID tokens, first party
}

func randomSecret(t testing.TB) []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return []byte(hex.EncodeToString(b))
}

func newEnv(t *testing.T, store storage.Storage) *env {
	return newEnvWithSecret(t, store, randomSecret(t))
}

func newEnvWithSecret(t *testing.T, store storage.Storage, secret []byte) *env {
	return newEnvAt(t, store, secret, "127.0.0.1:0")
}

// newEnvAt starts qrid listening on addr (a restarted node keeps its address, and so
// its issuer).
func newEnvAt(t *testing.T, store storage.Storage, secret []byte, addr string) *env {
	return newEnvConfig(t, store, secret, addr, func(*provider.Config) {})
}

// newEnvConfig starts qrid with a configuration adjusted by tune.
func newEnvConfig(t *testing.T, store storage.Storage, secret []byte, addr string, tune func(*provider.Config)) *env {
	t.Helper()
	e := &env{t: t, store: store, secret: secret}
	var handler atomic.Value
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	e.srv.Listener.Close()
	e.srv.Listener = l
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	e.issuer = e.srv.URL
	cfg := provider.Config{
		Issuer:     e.issuer,
		Dev:        true,
		Secret:     secret,
		AdminToken: "admin-token",
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	tune(&cfg)
	p, err := provider.New(context.Background(), cfg, store)
	if err != nil {
		t.Fatalf("provider.New: %v", err)
	}
	t.Cleanup(p.Close)
	e.p = p
	handler.Store(p.PublicHandler())
	return e
}

// seed registers the user and clients (a fresh store) or finds them (a restart).
func (e *env) seed() *env {
	e.t.Helper()
	ctx := context.Background()
	svc := e.p.Admin()
	var err error
	e.user, err = svc.CreateUser(ctx, admin.NewUser{Username: "alice", Password: testPassword, Name: "Alice Liddell", Email: "alice@example.com"})
	if err != nil {
		e.t.Fatalf("create user: %v", err)
	}
	mk := func(m admin.ClientMetadata) admin.ClientInfo {
		c, err := svc.CreateClient(ctx, m)
		if err != nil {
			e.t.Fatalf("create client %s: %v", m.ClientName, err)
		}
		return c
	}
	e.web = mk(admin.ClientMetadata{ClientName: "Web Shop", RedirectURIs: []string{callbackURL},
		PostLogoutRedirectURIs: []string{logoutURL}, ClientURI: "https://shop.example.com"})
	e.trusted = mk(admin.ClientMetadata{ClientName: "Trusted", RedirectURIs: []string{callbackURL},
		PostLogoutRedirectURIs: []string{logoutURL}, FirstParty: true})
	e.public = mk(admin.ClientMetadata{ClientName: "Native", RedirectURIs: []string{callbackURL},
		TokenEndpointAuthMethod: "none", FirstParty: true})
	e.machine = mk(admin.ClientMetadata{ClientName: "Batch job", GrantTypes: []string{"client_credentials"},
		Scope: "profile email"})
	e.rsClient = mk(admin.ClientMetadata{ClientName: "Legacy", RedirectURIs: []string{callbackURL},
		IDTokenSignedResponseAlg: "RS256", FirstParty: true})
	return e
}

func (e *env) oauth2Config(c admin.ClientInfo, scopes ...string) *oauth2.Config {
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}
	}
	style := oauth2.AuthStyleInHeader
	if c.TokenEndpointAuthMethod == "none" {
		style = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   e.issuer + "/oauth2/auth",
			TokenURL:  e.issuer + "/oauth2/token",
			AuthStyle: style,
		},
		RedirectURL: callbackURL,
		Scopes:      scopes,
	}
}

// verifier returns a go-oidc verifier that discovers qrid and fetches its JWKS.
func (e *env) verifier(clientID string, algs ...string) *oidc.IDTokenVerifier {
	e.t.Helper()
	ctx := oidc.ClientContext(context.Background(), e.srv.Client())
	prov, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		e.t.Fatalf("discovery: %v", err)
	}
	if len(algs) == 0 {
		algs = []string{"ES256"}
	}
	return prov.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: algs})
}

// browser is a user agent with a cookie jar that does not follow redirects, so
// tests see where qrid sends it.
type browser struct {
	t    *testing.T
	http *http.Client
}

func (e *env) newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, http: &http.Client{
		Jar:     jar,
		Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// on returns the same browser reporting to t (a subtest).
func (b *browser) on(t *testing.T) *browser { return &browser{t: t, http: b.http} }

func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.http.Get(u)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	return resp, readBody(b.t, resp)
}

func (b *browser) post(u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.http.PostForm(u, form)
	if err != nil {
		b.t.Fatalf("POST %s: %v", u, err)
	}
	return resp, readBody(b.t, resp)
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// hiddenFields returns the hidden inputs of a page's form.
func hiddenFields(t testing.TB, page string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		v.Set(m[1], htmlUnescape(m[2]))
	}
	if v.Get("csrf") == "" {
		t.Fatalf("page has no form with a CSRF token:\n%s", page)
	}
	return v
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&#61;", "=").Replace(s)
}

// callback parses a redirect to the RP's callback.
func callback(t testing.TB, resp *http.Response) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		t.Fatalf("want a redirect to the client, got %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("bad Location: %v", err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != callbackURL {
		t.Fatalf("redirected to %s, want %s", got, callbackURL)
	}
	q := loc.Query()
	// Errors about the response mode itself come back in the mode asked for.
	if frag, err := url.ParseQuery(loc.Fragment); err == nil {
		for k, v := range frag {
			q[k] = v
		}
	}
	return q
}

// signIn drives the login page (and the consent page when shown, approving it) from
// an authorization URL to the code returned to the client.
func (b *browser) signIn(authURL, username, pass string) url.Values {
	b.t.Helper()
	resp, page := b.get(authURL)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="password"`) {
		b.t.Fatalf("want the login page, got %d:\n%s", resp.StatusCode, page)
	}
	form := hiddenFields(b.t, page)
	form.Set("username", username)
	form.Set("password", pass)
	resp, page = b.post(strings.SplitN(authURL, "/oauth2/", 2)[0]+"/login", form)
	return b.afterLogin(authURL, resp, page)
}

// afterLogin approves the consent page if it is shown and returns the callback.
func (b *browser) afterLogin(authURL string, resp *http.Response, page string) url.Values {
	b.t.Helper()
	if resp.StatusCode == http.StatusOK && strings.Contains(page, `action="/consent"`) {
		form := hiddenFields(b.t, page)
		form.Set("decision", "allow")
		resp, _ = b.post(strings.SplitN(authURL, "/oauth2/", 2)[0]+"/consent", form)
	}
	return callback(b.t, resp)
}

// codeFlow runs the whole authorization code flow with PKCE and returns the tokens.
func (e *env) codeFlow(b *browser, c admin.ClientInfo) (*oauth2.Token, string) {
	e.t.Helper()
	conf := e.oauth2Config(c)
	verifier := oauth2.GenerateVerifier()
	state, nonce := "state-"+hex.EncodeToString(randomSecret(e.t)[:8]), "nonce-"+hex.EncodeToString(randomSecret(e.t)[:8])
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	q := b.signIn(authURL, "alice", testPassword)
	if q.Get("state") != state {
		e.t.Fatalf("state = %q, want %q", q.Get("state"), state)
	}
	if q.Get("code") == "" {
		e.t.Fatalf("no code in callback: %v", q)
	}
	ctx := oidc.ClientContext(context.Background(), e.srv.Client())
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return tok, nonce
}

func (e *env) ctx() context.Context {
	return oidc.ClientContext(context.Background(), e.srv.Client())
}
