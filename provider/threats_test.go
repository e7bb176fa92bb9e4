package provider_test

// One test per threat in SECURITY.md, named after it: each performs the attack and
// expects the defence.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/qrid/qrid/provider"
	"github.com/qrid/qrid/provider/admin"
	"github.com/qrid/qrid/provider/dpop"
	"github.com/qrid/qrid/storage/memory"
	"github.com/qrid/qrid/storage/postgres"
)

func TestThreatQRLJacking(t *testing.T) {
	// The attacker starts a sign-in at the RP and relays its QR and number to the
	// victim. Before anything is approved, the victim's phone is shown who asks, for
	// what, and from where.
	q := newQREnv(t, memory.New())
	attacker := q.newBrowser()
	_, page := attacker.get(q.oauth2Config(q.web).AuthCodeURL("state-jack-1", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	qrID, match := loginQR(t, page)
	victim := q.newPhone(t, "alice", testPassword, "victim-phone")
	status, body := victim.call(t, http.MethodPost, "/api/mobile/v1/qr/scan", map[string]any{"qr": q.issuer + "/q/" + qrID})
	if status != http.StatusOK {
		t.Fatalf("scan: %d %s", status, body)
	}
	var shown struct {
		Client struct {
			Name      string `json:"name"`
			ClientURI string `json:"client_uri"`
		} `json:"client"`
		Scopes    []string `json:"scopes"`
		Requester struct {
			IP          string `json:"ip"`
			UserAgent   string `json:"user_agent"`
			CreatedAt   string `json:"created_at"`
			SameNetwork *bool  `json:"same_network"`
		} `json:"requester"`
		MatchChoices []string `json:"match_choices"`
	}
	if err := json.Unmarshal(body, &shown); err != nil {
		t.Fatal(err)
	}
	if shown.Client.Name != "Web Shop" || shown.Client.ClientURI != "https://shop.example.com" || len(shown.Scopes) == 0 ||
		shown.Requester.IP == "" || shown.Requester.UserAgent == "" || shown.Requester.CreatedAt == "" {
		t.Fatalf("the phone was not shown who asks and from where: %s", body)
	}
	// Both ends are on loopback here; the comparison itself is unit-tested in
	// provider/mobile (TestSameNetwork).
	if shown.Requester.SameNetwork == nil || !*shown.Requester.SameNetwork {
		t.Fatalf("the phone was not told whether the requester is on its network: %s", body)
	}
	if len(shown.MatchChoices) != 3 || match == "" {
		t.Fatalf("a third-party sign-in without number matching: %s", body)
	}
}

func TestThreatQRObservation(t *testing.T) {
	// Someone photographs the PC's screen and scans the same QR: the session closes
	// for both sides.
	q := newQREnv(t, memory.New())
	da := q.authorize(t, q.shell, "openid")
	owner := q.newPhone(t, "alice", testPassword, "owner-phone")
	onlooker := q.newPhone(t, "alice", testPassword, "onlooker-phone")
	first := owner.scan(t, da.VerificationURIComplete)
	if second := onlooker.scan(t, da.VerificationURIComplete); second.Error != "already_scanned" {
		t.Fatalf("second scan = %+v", second)
	}
	if a := q.poll(t, q.shell, da.DeviceCode, 0); a.Error != "access_denied" || a.QRStatus != "contested" {
		t.Fatalf("the PC was told %+v", a)
	}
	if c := owner.confirm(t, first.ConfirmToken, true, ""); c.Error != "already_scanned" {
		t.Fatalf("the owner's confirm = %+v", c)
	}
}

func TestThreatConfirmTokenReplay(t *testing.T) {
	q := newQREnv(t, memory.New())
	da := q.authorize(t, q.shell, "openid")
	ph := q.newPhone(t, "alice", testPassword, "phone")
	sc := ph.scan(t, da.VerificationURIComplete)
	if c := ph.confirm(t, sc.ConfirmToken, false, ""); c.Decision != "denied" {
		t.Fatalf("deny = %+v", c)
	}
	// The attacker replays the token to approve instead.
	if c := ph.confirm(t, sc.ConfirmToken, true, ""); c.Status != http.StatusConflict {
		t.Fatalf("replay = %+v", c)
	}
	if a := q.poll(t, q.shell, da.DeviceCode, 0); a.Error != "access_denied" {
		t.Fatalf("the replay changed the outcome: %+v", a)
	}
}

func TestThreatUserCodeBruteForce(t *testing.T) {
	q := newQREnv(t, memory.New())
	ph := q.newPhone(t, "alice", testPassword, "phone")
	limited := false
	for i := range 30 {
		status, _ := ph.call(t, http.MethodPost, "/api/mobile/v1/qr/scan", map[string]any{"user_code": fmt.Sprintf("BBBB-BB%c%c", "BCDFGHJKLM"[i%10], "BCDFGHJKLM"[i/10])})
		if status == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("30 user-code guesses from one account were all answered")
	}
	// The web fallback is limited per address too (TestDevicePageBadInput).
}

func TestThreatDeviceCodeGuessing(t *testing.T) {
	q := newQREnv(t, memory.New())
	da := q.authorize(t, q.shell, "openid")
	for _, guess := range []string{da.DeviceCode[:len(da.DeviceCode)-1] + "A", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", strings.ToUpper(da.DeviceCode)} {
		if guess == da.DeviceCode {
			continue
		}
		if a := q.poll(t, q.shell, guess, 0); a.Error != "invalid_grant" {
			t.Fatalf("a guessed device code got %+v", a)
		}
	}
	if a := q.poll(t, q.tv, da.DeviceCode, 0); a.Error != "invalid_grant" {
		t.Fatalf("another client's poll with the real code got %+v", a)
	}
}

func TestThreatStolenPhoneToken(t *testing.T) {
	q := newQREnv(t, memory.New())
	ph := q.newPhone(t, "alice", testPassword, "alice-phone")
	thief := &phone{q: q, http: q.srv.Client(), deviceID: "thief-phone", token: ph.token}
	if status, _ := thief.call(t, http.MethodGet, "/api/mobile/v1/devices", nil); status != http.StatusUnauthorized {
		t.Fatalf("the stolen token worked from another device ID: %d", status)
	}
	// The person revokes the phone from another device: the token dies at once.
	other := q.newPhone(t, "alice", testPassword, "alice-tablet")
	_, body := other.call(t, http.MethodGet, "/api/mobile/v1/devices", nil)
	var list struct {
		Devices []struct {
			ID       string `json:"id"`
			DeviceID string `json:"device_id"`
		} `json:"devices"`
	}
	_ = json.Unmarshal(body, &list)
	for _, d := range list.Devices {
		if d.DeviceID == "alice-phone" {
			if status, _ := other.call(t, http.MethodDelete, "/api/mobile/v1/devices/"+d.ID, nil); status != http.StatusNoContent {
				t.Fatalf("revoke = %d", status)
			}
		}
	}
	if status, _ := ph.call(t, http.MethodGet, "/api/mobile/v1/devices", nil); status != http.StatusUnauthorized {
		t.Fatalf("the revoked token still works: %d", status)
	}
}

func TestThreatStolenRefreshToken(t *testing.T) {
	e := newEnv(t, memory.New()).seed()
	tok, _ := e.codeFlow(e.newBrowser(), e.trusted)
	// Another client cannot use it.
	if _, err := e.oauth2Config(e.web).TokenSource(e.ctx(), refreshOnly(tok.RefreshToken)).Token(); err == nil {
		t.Fatal("another client refreshed a stolen refresh token")
	}
	// The legitimate client refreshes; the thief then uses the old one: the whole
	// chain is revoked, the thief's copy and the legitimate new one alike.
	fresh, err := e.oauth2Config(e.trusted).TokenSource(e.ctx(), refreshOnly(tok.RefreshToken)).Token()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.oauth2Config(e.trusted).TokenSource(e.ctx(), refreshOnly(tok.RefreshToken)).Token(); err == nil {
		t.Fatal("the thief's reuse worked")
	}
	if _, err := e.oauth2Config(e.trusted).TokenSource(e.ctx(), refreshOnly(fresh.RefreshToken)).Token(); err == nil {
		t.Fatal("the chain survived a detected reuse")
	}
}

func TestThreatCSRF(t *testing.T) {
	e := newEnv(t, memory.New()).seed()
	victim := e.newBrowser()
	e.codeFlow(victim, e.trusted) // the victim is signed in
	// A foreign site posts the consent and logout forms from the victim's browser.
	for _, path := range []string{"/consent", "/oauth2/logout", "/device", "/device/confirm", "/login/qr/renew", "/login/qr/complete"} {
		resp, _ := victim.post(e.issuer+path, url.Values{"decision": {"allow"}, "csrf": {"forged"}, "authz": {"x"}})
		if resp.StatusCode != http.StatusForbidden && path != "/oauth2/logout" {
			t.Errorf("%s with a forged CSRF token = %d, want 403", path, resp.StatusCode)
		}
	}
	// Logout without a valid token only shows the confirmation: still signed in.
	if _, q := e.codeFlowSSO(victim, e.trusted); q.Get("code") == "" {
		t.Fatal("a forged logout signed the victim out")
	}
}

func TestThreatLoginCSRF(t *testing.T) {
	// The attacker fills in the login form with their own account and makes the
	// victim's browser submit it.
	e := newEnv(t, memory.New()).seed()
	attacker := e.newBrowser()
	_, page := attacker.get(e.oauth2Config(e.trusted).AuthCodeURL("state-lcsrf-1", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	form := hiddenFields(t, page)
	form.Set("username", "alice")
	form.Set("password", testPassword)
	victim := e.newBrowser()
	victim.get(e.issuer + "/device") // the victim has its own CSRF cookie
	if resp, _ := victim.post(e.issuer+"/login", form); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login CSRF = %d, want 403", resp.StatusCode)
	}
}

func TestThreatOpenRedirect(t *testing.T) {
	e := newEnv(t, memory.New()).seed()
	b := e.newBrowser()
	for _, target := range []string{"https://evil.example/cb", callbackURL + ".evil.example", "//evil.example/cb", callbackURL + "/../../evil"} {
		q := url.Values{"client_id": {e.web.ClientID}, "response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {target}, "state": {"state-12345678"}}
		resp, _ := b.get(e.issuer + "/oauth2/auth?" + q.Encode())
		if loc := resp.Header.Get("Location"); loc != "" {
			t.Errorf("redirect_uri %q led to a redirect to %q", target, loc)
		}
	}
	resp, _ := b.get(e.issuer + "/oauth2/logout?" + url.Values{"client_id": {e.web.ClientID}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
	if loc := resp.Header.Get("Location"); loc != "" {
		t.Errorf("logout redirected to an unregistered URI %q", loc)
	}
}

func TestThreatClickjacking(t *testing.T) {
	q := newQREnv(t, memory.New())
	b := q.newBrowser()
	_, page := b.get(q.oauth2Config(q.trusted).AuthCodeURL("state-frame-1", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	qrID, _ := loginQR(t, page)
	for _, path := range []string{
		"/oauth2/auth?" + url.Values{"client_id": {q.trusted.ClientID}, "response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {callbackURL}, "state": {"state-12345678"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}.Encode(),
		"/device", "/q/" + qrID, "/app", "/oauth2/logout",
	} {
		resp, _ := b.get(q.issuer + path)
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s can be framed: CSP %q, X-Frame-Options %q", path, csp, resp.Header.Get("X-Frame-Options"))
		}
	}
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestThreatTokenLeakage(t *testing.T) {
	logs := &syncBuffer{}
	e := newEnvConfig(t, memory.New(), randomSecret(t), "127.0.0.1:0", func(c *provider.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}).seed()
	b := e.newBrowser()
	conf := e.oauth2Config(e.trusted)
	verifier := oauth2.GenerateVerifier()
	cb := b.signIn(conf.AuthCodeURL("state-leak-1", oauth2.S256ChallengeOption(verifier)), "alice", testPassword)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {cb.Get("code")}, "redirect_uri": {callbackURL}, "code_verifier": {verifier}}
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(e.trusted.ClientID, e.trusted.ClientSecret)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("token response Cache-Control = %q", resp.Header.Get("Cache-Control"))
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
	}
	if err := json.Unmarshal(raw, &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token response: %s", raw)
	}
	e.userinfoStatus(tok.AccessToken)
	// A bad request with a token in it is logged too.
	e.userinfoStatus(tok.RefreshToken)
	out := logs.String()
	for name, secret := range map[string]string{
		"password": testPassword, "code": cb.Get("code"), "access token": tok.AccessToken, "refresh token": tok.RefreshToken,
		"ID token": tok.IDToken, "client secret": e.trusted.ClientSecret, "PKCE verifier": verifier,
	} {
		if strings.Contains(out, secret) {
			t.Errorf("the logs contain the %s", name)
		}
	}
	resp, page := e.newBrowser().get(conf.AuthCodeURL("state-leak-2", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if !strings.Contains(page, `name="csrf"`) || resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("a page with a CSRF token: Cache-Control %q, Referrer-Policy %q", resp.Header.Get("Cache-Control"), resp.Header.Get("Referrer-Policy"))
	}
}

func TestThreatDatabaseLeak(t *testing.T) {
	// After real sign-ins, read every row of every table as text: no secret that
	// was handed out may appear.
	dbURL := postgres.NewTestDatabase(t)
	store := postgres.OpenTestStore(t, dbURL)
	q := &qrEnv{env: newEnvConfig(t, store, randomSecret(t), "127.0.0.1:0", func(c *provider.Config) { c.QRInterval = time.Second }).seed()}
	tok, _ := q.codeFlow(q.newBrowser(), q.trusted)
	ph := q.newPhone(t, "alice", testPassword, "leak-phone")
	shell, err := q.p.Admin().CreateClient(context.Background(), adminClientMetadata("leak shell"))
	if err != nil {
		t.Fatal(err)
	}
	da := q.authorize(t, shell, "openid offline_access")
	sc := ph.scan(t, da.VerificationURIComplete)
	ph.confirm(t, sc.ConfirmToken, true, "")
	qrTok := q.poll(t, shell, da.DeviceCode, 0)
	if qrTok.AccessToken == "" {
		t.Fatalf("QR login: %+v", qrTok)
	}
	secrets := map[string]string{
		"password": testPassword, "client secret": q.trusted.ClientSecret, "access token": tok.AccessToken,
		"refresh token": tok.RefreshToken, "device code": da.DeviceCode, "user code": strings.ReplaceAll(da.UserCode, "-", ""),
		"confirm token": sc.ConfirmToken, "device token": ph.token, "QR access token": qrTok.AccessToken, "QR refresh token": qrTok.RefreshToken,
		"system secret": string(q.secret),
	}
	// The token values are "prefix_key.signature": the stored signature must not be
	// enough to rebuild them, so look for the key part too.
	for _, name := range []string{"access token", "refresh token", "QR access token", "QR refresh token"} {
		if key, _, ok := strings.Cut(secrets[name], "."); ok {
			secrets[name+" key"] = key
		}
	}
	dump := postgres.DumpForTest(t, store)
	for name, secret := range secrets {
		if secret != "" && strings.Contains(dump, secret) {
			t.Errorf("the database holds the %s in the clear", name)
		}
	}
}

func TestThreatTimingSideChannels(t *testing.T) {
	// Wrong password and unknown user: the same status and the same page (the
	// unknown user is verified against a dummy argon2id hash, so the work is the
	// same; timing itself is not asserted).
	e := newEnv(t, memory.New()).seed()
	answer := func(username string) (int, string) {
		b := e.newBrowser()
		_, page := b.get(e.oauth2Config(e.trusted).AuthCodeURL("state-timing-1", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		f := hiddenFields(t, page)
		f.Set("username", username)
		f.Set("password", "not the password")
		resp, page := b.post(e.issuer+"/login", f)
		return resp.StatusCode, errorLine(page)
	}
	s1, m1 := answer("alice")
	s2, m2 := answer("nobody-here")
	if s1 != s2 || m1 != m2 {
		t.Fatalf("wrong password (%d %q) and unknown user (%d %q) answer differently", s1, m1, s2, m2)
	}
}

// errorLine is the alert a page shows.
func errorLine(page string) string {
	i := strings.Index(page, `role="alert"`)
	if i < 0 {
		return ""
	}
	j := strings.Index(page[i:], "</p>")
	return page[i : i+j]
}

func TestThreatResourceExhaustion(t *testing.T) {
	q := newQREnv(t, memory.New())
	t.Run("device_authorizations_per_address", func(t *testing.T) {
		limited := false
		for range 80 {
			status, body := q.postForm(t, "/oauth2/device/auth", q.shell, url.Values{"scope": {"openid"}})
			if status == http.StatusTooManyRequests {
				if !strings.Contains(string(body), "slow_down") {
					t.Fatalf("429 body: %s", body)
				}
				limited = true
				break
			}
		}
		if !limited {
			t.Fatal("80 device authorizations from one address in a burst were all served")
		}
	})
	t.Run("oversized_bodies", func(t *testing.T) {
		big := strings.Repeat("x", 1<<20)
		status, _ := q.postForm(t, "/oauth2/token", q.shell, url.Values{"grant_type": {"client_credentials"}, "pad": {big}})
		if status != http.StatusBadRequest && status != http.StatusRequestEntityTooLarge {
			t.Fatalf("a 1 MiB token request = %d", status)
		}
		ph := q.newPhone(t, "alice", testPassword, "big-phone")
		if status, _ := ph.call(t, http.MethodPost, "/api/mobile/v1/qr/scan", map[string]any{"qr": big}); status != http.StatusRequestEntityTooLarge {
			t.Fatalf("a 1 MiB scan = %d", status)
		}
	})
}

// adminClientMetadata is a first-party device-flow client with refresh tokens.
func adminClientMetadata(name string) admin.ClientMetadata {
	return admin.ClientMetadata{ClientName: name, FirstParty: true,
		GrantTypes: []string{admin.GrantDeviceCode, admin.GrantRefreshToken}}
}

// TestThreatStolenDPoPBoundToken: a phone binds its token to its key (RFC 9449); a
// thief holding the token but not the key gets nowhere, even with a proof of its own
// or a replayed proof of the phone's.
func TestThreatStolenDPoPBoundToken(t *testing.T) {
	q := newQREnv(t, memory.New())
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	loginURL := q.issuer + "/api/mobile/v1/login"
	proof, err := dpop.NewProof(key, http.MethodPost, loginURL, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"username": "alice", "password": testPassword, "device_id": "bound-phone", "device_type": "ios"})
	req, _ := http.NewRequest(http.MethodPost, loginURL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("DPoP", proof)
	resp, err := q.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		Token     string `json:"token"`
		TokenType string `json:"token_type"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || login.TokenType != "DPoP" {
		t.Fatalf("DPoP login: %d %+v", resp.StatusCode, login)
	}
	devicesURL := q.issuer + "/api/mobile/v1/devices"
	call := func(scheme, proof string) int {
		req, _ := http.NewRequest(http.MethodGet, devicesURL, nil)
		req.Header.Set("Authorization", scheme+" "+login.Token)
		req.Header.Set("X-Device-Id", "bound-phone")
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		resp, err := q.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	good, _ := dpop.NewProof(key, http.MethodGet, devicesURL, login.Token, time.Now())
	if status := call("DPoP", good); status != http.StatusOK {
		t.Fatalf("the phone's own call = %d", status)
	}
	thiefKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	thiefProof, _ := dpop.NewProof(thiefKey, http.MethodGet, devicesURL, login.Token, time.Now())
	for name, status := range map[string]int{
		"as a bearer token":      call("Bearer", ""),
		"without a proof":        call("DPoP", ""),
		"with the thief's proof": call("DPoP", thiefProof),
		"with a replayed proof":  call("DPoP", good),
	} {
		if status != http.StatusUnauthorized {
			t.Errorf("the stolen token %s = %d, want 401", name, status)
		}
	}
}
