package provider_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/qrid/qrid/provider"
	"github.com/qrid/qrid/provider/admin"
	"github.com/qrid/qrid/storage"
)

// clock is a settable clock for QR sessions (expiry, intervals).
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// qrEnv is an env with device-flow clients and a fast polling interval.
type qrEnv struct {
	*env
	clock *clock
	tv    admin.ClientInfo // public, device_code, number matching on
	shell admin.ClientInfo // confidential, first party: no matching
}

func newQREnv(t *testing.T, store storage.Storage) *qrEnv {
	return newQREnvConfig(t, store, func(*provider.Config) {})
}

// newQREnvConfig is newQREnv with tune applied to the provider's configuration.
func newQREnvConfig(t *testing.T, store storage.Storage, tune func(*provider.Config)) *qrEnv {
	c := newClock()
	e := newEnvConfig(t, store, randomSecret(t), "127.0.0.1:0", func(cfg *provider.Config) {
		cfg.QRInterval = time.Second
		cfg.QRTTL = 5 * time.Minute
		cfg.Now = c.Now
		tune(cfg)
	}).seed()
	q := &qrEnv{env: e, clock: c}
	ctx := context.Background()
	var err error
	q.tv, err = e.p.Admin().CreateClient(ctx, admin.ClientMetadata{ClientName: "Living room TV", TokenEndpointAuthMethod: "none",
		GrantTypes: []string{admin.GrantDeviceCode, admin.GrantRefreshToken}, ClientURI: "https://tv.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	q.shell, err = e.p.Admin().CreateClient(ctx, admin.ClientMetadata{ClientName: "qrid shell", FirstParty: true,
		GrantTypes: []string{admin.GrantDeviceCode, admin.GrantRefreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// deviceConfig is an x/oauth2 configuration for a device-flow client.
func (q *qrEnv) deviceConfig(c admin.ClientInfo, scopes ...string) *oauth2.Config {
	if len(scopes) == 0 {
		scopes = []string{"openid", "profile", "email", "offline_access"}
	}
	conf := q.oauth2Config(c, scopes...)
	conf.Endpoint.DeviceAuthURL = q.issuer + "/oauth2/device/auth"
	return conf
}

// deviceAuth is the device authorization answer with qrid's extensions.
type deviceAuth struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
	QRImageURI              string `json:"qr_image_uri"`
	MatchCode               string `json:"match_code"`
}

// authorize asks for a QR session as client c.
func (q *qrEnv) authorize(t *testing.T, c admin.ClientInfo, scope string) deviceAuth {
	t.Helper()
	form := url.Values{"scope": {scope}}
	status, body := q.postForm(t, "/oauth2/device/auth", c, form)
	if status != http.StatusOK {
		t.Fatalf("device authorization: %d %s", status, body)
	}
	var a deviceAuth
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// postForm posts a form as client c (Basic for confidential clients, client_id for
// public ones).
func (q *qrEnv) postForm(t testing.TB, path string, c admin.ClientInfo, form url.Values) (int, []byte) {
	return q.postFormWith(t, q.srv.Client(), path, c, form)
}

func (q *qrEnv) postFormWith(t testing.TB, client *http.Client, path string, c admin.ClientInfo, form url.Values) (int, []byte) {
	t.Helper()
	if c.TokenEndpointAuthMethod == "none" {
		form.Set("client_id", c.ClientID)
	}
	req, _ := http.NewRequest(http.MethodPost, q.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.TokenEndpointAuthMethod != "none" {
		req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return resp.StatusCode, []byte(readBody(t, resp))
}

// pollAnswer is a token endpoint answer to a device_code poll.
type pollAnswer struct {
	Status       int
	Error        string `json:"error"`
	QRStatus     string `json:"qr_status"`
	Interval     int    `json:"interval"`
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
}

func (q *qrEnv) poll(t testing.TB, c admin.ClientInfo, deviceCode string, wait int) pollAnswer {
	return q.pollWith(t, q.srv.Client(), c, deviceCode, wait)
}

func (q *qrEnv) pollWith(t testing.TB, client *http.Client, c admin.ClientInfo, deviceCode string, wait int) pollAnswer {
	t.Helper()
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {deviceCode}}
	if wait > 0 {
		form.Set("wait", fmt.Sprint(wait))
	}
	status, body := q.postFormWith(t, client, "/oauth2/token", c, form)
	a := pollAnswer{Status: status}
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("poll answer %d is not JSON: %s", status, body)
	}
	return a
}

// phone is a signed-in mobile app talking to the mobile API.
type phone struct {
	q        *qrEnv
	http     *http.Client
	deviceID string
	token    string
}

func (q *qrEnv) newPhone(t testing.TB, username, pass, deviceID string) *phone {
	return q.newPhoneWith(t, q.srv.Client(), username, pass, deviceID)
}

// newPhoneWith signs a phone in, talking through client.
func (q *qrEnv) newPhoneWith(t testing.TB, client *http.Client, username, pass, deviceID string) *phone {
	t.Helper()
	p := &phone{q: q, http: client, deviceID: deviceID}
	status, body := p.call(t, http.MethodPost, "/api/mobile/v1/login", map[string]any{
		"username": username, "password": pass, "device_id": deviceID, "device_type": "ios", "device_name": "Test phone " + deviceID,
	})
	if status != http.StatusOK {
		t.Fatalf("mobile login: %d %s", status, body)
	}
	var r struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Token == "" {
		t.Fatalf("mobile login answer: %s", body)
	}
	p.token = r.Token
	return p
}

func (p *phone) call(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, p.q.issuer+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
		req.Header.Set("X-Device-Id", p.deviceID)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, []byte(readBody(t, resp))
}

type scanAnswer struct {
	Status       int
	Error        string   `json:"error"`
	ConfirmToken string   `json:"confirm_token"`
	Scopes       []string `json:"scopes"`
	MatchChoices []string `json:"match_choices"`
	Client       struct {
		Name string `json:"name"`
	} `json:"client"`
	Requester struct {
		IP        string `json:"ip"`
		UserAgent string `json:"user_agent"`
	} `json:"requester"`
}

func (p *phone) scan(t testing.TB, content string) scanAnswer {
	t.Helper()
	status, body := p.call(t, http.MethodPost, "/api/mobile/v1/qr/scan", map[string]any{"qr": content})
	a := scanAnswer{Status: status}
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("scan answer %d: %s", status, body)
	}
	return a
}

// qrLogin signs a PC in as the shell client with ph approving: device
// authorization, scan, confirm and the poll that gets the tokens.
func (q *qrEnv) qrLogin(tb testing.TB, ph *phone, scope string) pollAnswer {
	tb.Helper()
	da := benchAuthorize(tb, q, q.shell, scope)
	sc := ph.scan(tb, da.VerificationURIComplete)
	if sc.Status != http.StatusOK {
		tb.Fatalf("scan = %+v", sc)
	}
	if c := ph.confirm(tb, sc.ConfirmToken, true, ""); c.Decision != "approved" {
		tb.Fatalf("confirm = %+v", c)
	}
	a := q.poll(tb, q.shell, da.DeviceCode, 0)
	if a.Status != http.StatusOK || a.AccessToken == "" || (strings.Contains(scope, "openid") && a.IDToken == "") {
		tb.Fatalf("poll after the approval = %+v", a)
	}
	return a
}

type confirmAnswer struct {
	Status   int
	Error    string `json:"error"`
	Decision string `json:"status"`
}

func (p *phone) confirm(t testing.TB, token string, approve bool, match string) confirmAnswer {
	t.Helper()
	req := map[string]any{"confirm_token": token, "approve": approve}
	if match != "" {
		req["match"] = match
	}
	status, body := p.call(t, http.MethodPost, "/api/mobile/v1/qr/confirm", req)
	a := confirmAnswer{Status: status}
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("confirm answer %d: %s", status, body)
	}
	return a
}

// TestDeviceFlowStandardClient: an unmodified x/oauth2 client gets tokens after a
// phone scans and approves; go-oidc verifies the ID token.
func TestDeviceFlowStandardClient(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) storage.Storage) {
		q := newQREnv(t, newStore(t))
		conf := q.deviceConfig(q.shell)
		da, err := conf.DeviceAuth(q.ctx())
		if err != nil {
			t.Fatalf("DeviceAuth: %v", err)
		}
		if !strings.HasPrefix(da.VerificationURIComplete, q.issuer+"/q/") || da.UserCode == "" {
			t.Fatalf("device authorization = %+v", da)
		}
		type result struct {
			tok *oauth2.Token
			err error
		}
		done := make(chan result, 1)
		go func() {
			tok, err := conf.DeviceAccessToken(q.ctx(), da)
			done <- result{tok, err}
		}()
		ph := q.newPhone(t, "alice", testPassword, "iphone-1")
		sc := ph.scan(t, da.VerificationURIComplete)
		if sc.Status != http.StatusOK || sc.Client.Name != "qrid shell" || len(sc.MatchChoices) != 0 {
			t.Fatalf("scan = %+v", sc)
		}
		if c := ph.confirm(t, sc.ConfirmToken, true, ""); c.Status != http.StatusOK || c.Decision != "approved" {
			t.Fatalf("confirm = %+v", c)
		}
		var res result
		select {
		case res = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the client did not get its tokens within 30 s")
		}
		if res.err != nil {
			t.Fatalf("DeviceAccessToken: %v", res.err)
		}
		idt, err := q.verifier(q.shell.ClientID).Verify(q.ctx(), res.tok.Extra("id_token").(string))
		if err != nil {
			t.Fatalf("ID token: %v", err)
		}
		var c struct {
			AMR      []string `json:"amr"`
			AuthTime int64    `json:"auth_time"`
			Device   string   `json:"qrid_device"`
			Email    string   `json:"email"`
		}
		if err := idt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		if idt.Subject != q.user.ID || !slices.Contains(c.AMR, "qr") || c.AuthTime == 0 || c.Device == "" || c.Email != "alice@example.com" {
			t.Fatalf("ID token claims: sub=%s %+v", idt.Subject, c)
		}
		if res.tok.RefreshToken == "" {
			t.Fatal("no refresh token although offline_access was granted")
		}
		// The refresh token works like any other.
		if _, err := conf.TokenSource(q.ctx(), refreshOnly(res.tok.RefreshToken)).Token(); err != nil {
			t.Fatalf("refresh of a device-flow token: %v", err)
		}
	})
}

// TestDeviceFlowLongPoll: with wait, the PC learns of the scan and the approval as
// they happen.
func TestDeviceFlowLongPoll(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) storage.Storage) {
		q := newQREnv(t, newStore(t))
		da := q.authorize(t, q.tv, "openid profile")
		if da.MatchCode == "" || da.QRImageURI == "" {
			t.Fatalf("a third-party client must get a match code and an image: %+v", da)
		}
		answers := make(chan pollAnswer, 1)
		longPoll := func() {
			go func() { answers <- q.poll(t, q.tv, da.DeviceCode, 25) }()
		}
		await := func(what string) pollAnswer {
			select {
			case a := <-answers:
				return a
			case <-time.After(20 * time.Second):
				t.Fatalf("the long-poll did not answer %s", what)
				return pollAnswer{}
			}
		}
		ph := q.newPhone(t, "alice", testPassword, "pixel-1")
		longPoll()
		waitHeld(t, q)
		sc := ph.scan(t, da.VerificationURIComplete)
		if sc.Status != http.StatusOK || len(sc.MatchChoices) != 3 || !slices.Contains(sc.MatchChoices, da.MatchCode) {
			t.Fatalf("scan = %+v (match %s)", sc, da.MatchCode)
		}
		if a := await("the scan"); a.Error != "authorization_pending" || a.QRStatus != "scanned" {
			t.Fatalf("after the scan the poll answered %+v", a)
		}
		longPoll()
		waitHeld(t, q)
		if c := ph.confirm(t, sc.ConfirmToken, true, da.MatchCode); c.Decision != "approved" {
			t.Fatalf("confirm = %+v", c)
		}
		a := await("the approval")
		if a.Status != http.StatusOK || a.AccessToken == "" || a.IDToken == "" {
			t.Fatalf("after the approval the poll answered %+v", a)
		}
		if a.RefreshToken != "" {
			t.Error("a refresh token was issued without offline_access")
		}
		if _, err := q.verifier(q.tv.ClientID).Verify(q.ctx(), a.IDToken); err != nil {
			t.Fatal(err)
		}
	})
}

// waitHeld waits until a long-poll is being held by the server (its hub tracks the
// session and nothing has answered yet) — observed through the metrics of the
// token endpoint is not possible while it is held, so wait for the request to be
// in flight on the server.
func waitHeld(t *testing.T, q *qrEnv) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for q.p.HeldPolls() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the long-poll never reached the server")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestQRInvariants tries to break every invariant of DESIGN §4.
func TestQRInvariants(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) storage.Storage) {
		q := newQREnv(t, newStore(t))
		alice := q.newPhone(t, "alice", testPassword, "alice-phone")
		aliceTablet := q.newPhone(t, "alice", testPassword, "alice-tablet")
		mallory := q.newPhone(t, "alice", testPassword, "mallory-phone")

		t.Run("fail/confirm_token_replay", func(t *testing.T) {
			da := q.authorize(t, q.shell, "openid")
			sc := alice.scan(t, da.VerificationURIComplete)
			if c := alice.confirm(t, sc.ConfirmToken, true, ""); c.Decision != "approved" {
				t.Fatalf("confirm = %+v", c)
			}
			if c := alice.confirm(t, sc.ConfirmToken, true, ""); c.Status != http.StatusConflict || c.Error != "already_used" {
				t.Fatalf("replayed confirm = %+v, want 409 already_used", c)
			}
		})
		t.Run("fail/confirm_after_expiry", func(t *testing.T) {
			da := q.authorize(t, q.shell, "openid")
			sc := alice.scan(t, da.VerificationURIComplete)
			q.clock.Advance(61 * time.Second)
			if c := alice.confirm(t, sc.ConfirmToken, true, ""); c.Status != http.StatusGone || c.Error != "expired" {
				t.Fatalf("late confirm = %+v, want 410 expired", c)
			}
		})
		t.Run("fail/confirm_by_another_device", func(t *testing.T) {
			da := q.authorize(t, q.shell, "openid")
			sc := alice.scan(t, da.VerificationURIComplete)
			if c := aliceTablet.confirm(t, sc.ConfirmToken, true, ""); c.Status != http.StatusForbidden {
				t.Fatalf("confirm from the tablet = %+v, want 403", c)
			}
			if a := q.poll(t, q.shell, da.DeviceCode, 0); a.Error != "authorization_pending" {
				t.Fatalf("the session moved: %+v", a)
			}
		})
		t.Run("fail/second_device_scanning_contests", func(t *testing.T) {
			da := q.authorize(t, q.shell, "openid")
			first := alice.scan(t, da.VerificationURIComplete)
			if second := mallory.scan(t, da.VerificationURIComplete); second.Status != http.StatusConflict || second.Error != "already_scanned" {
				t.Fatalf("second scan = %+v, want 409 already_scanned", second)
			}
			if a := q.poll(t, q.shell, da.DeviceCode, 0); a.Error != "access_denied" || a.QRStatus != "contested" {
				t.Fatalf("the PC was told %+v, want access_denied contested", a)
			}
			if c := alice.confirm(t, first.ConfirmToken, true, ""); c.Error != "already_scanned" {
				t.Fatalf("the first device's confirm = %+v, want already_scanned", c)
			}
		})
		t.Run("ok/same_device_rescan_replaces_token", func(t *testing.T) {
			da := q.authorize(t, q.shell, "openid")
			old := alice.scan(t, da.VerificationURIComplete)
			fresh := alice.scan(t, da.VerificationURIComplete)
			if c := alice.confirm(t, old.ConfirmToken, true, ""); c.Status == http.StatusOK {
				t.Fatal("the replaced confirm token still works")
			}
			if c := alice.confirm(t, fresh.ConfirmToken, true, ""); c.Decision != "approved" {
				t.Fatalf("confirm with the fresh token = %+v", c)
			}
		})
		t.Run("fail/wrong_number_denies", func(t *testing.T) {
			da := q.authorize(t, q.tv, "openid")
			sc := alice.scan(t, da.VerificationURIComplete)
			wrong := ""
			for _, c := range sc.MatchChoices {
				if c != da.MatchCode {
					wrong = c
				}
			}
			if c := alice.confirm(t, sc.ConfirmToken, true, wrong); c.Status != http.StatusForbidden || c.Error != "wrong_match" {
				t.Fatalf("wrong pick = %+v, want 403 wrong_match", c)
			}
			if a := q.poll(t, q.tv, da.DeviceCode, 0); a.Error != "access_denied" || a.QRStatus != "wrong_match" {
				t.Fatalf("the PC was told %+v", a)
			}
		})
		t.Run("ok/denial_reaches_the_poller", func(t *testing.T) {
			da := q.authorize(t, q.shell, "openid")
			sc := alice.scan(t, da.VerificationURIComplete)
			if c := alice.confirm(t, sc.ConfirmToken, false, ""); c.Decision != "denied" {
				t.Fatalf("deny = %+v", c)
			}
			if a := q.poll(t, q.shell, da.DeviceCode, 0); a.Error != "access_denied" || a.QRStatus != "denied" {
				t.Fatalf("poll = %+v, want access_denied", a)
			}
		})
		t.Run("ok/expiry_reaches_the_poller", func(t *testing.T) {
			da := q.authorize(t, q.shell, "openid")
			q.clock.Advance(5*time.Minute + time.Second)
			if a := q.poll(t, q.shell, da.DeviceCode, 0); a.Error != "expired_token" {
				t.Fatalf("poll = %+v, want expired_token", a)
			}
			if sc := alice.scan(t, da.VerificationURIComplete); sc.Error != "expired" {
				t.Fatalf("scan of an expired code = %+v", sc)
			}
		})
		t.Run("fail/device_code_of_another_client", func(t *testing.T) {
			da := q.authorize(t, q.shell, "openid")
			if a := q.poll(t, q.tv, da.DeviceCode, 0); a.Error != "invalid_grant" {
				t.Fatalf("poll by another client = %+v, want invalid_grant", a)
			}
		})
		t.Run("fail/unknown_qr_id", func(t *testing.T) {
			if sc := alice.scan(t, q.issuer+"/q/AAAAAAAAAAAAAAAAAAAAAA"); sc.Status != http.StatusNotFound || sc.Error != "not_found" {
				t.Fatalf("scan = %+v, want 404 not_found", sc)
			}
			if a := q.poll(t, q.shell, "no-such-device-code", 0); a.Error != "invalid_grant" {
				t.Fatalf("poll = %+v", a)
			}
		})
		t.Run("ok/slow_down_then_obeying_works", func(t *testing.T) {
			da := q.authorize(t, q.shell, "openid")
			if a := q.poll(t, q.shell, da.DeviceCode, 0); a.Error != "authorization_pending" {
				t.Fatalf("first poll = %+v", a)
			}
			a := q.poll(t, q.shell, da.DeviceCode, 0)
			if a.Error != "slow_down" || a.Interval != da.Interval+5 {
				t.Fatalf("immediate second poll = %+v, want slow_down with interval %d", a, da.Interval+5)
			}
			q.clock.Advance(time.Duration(a.Interval) * time.Second)
			if a := q.poll(t, q.shell, da.DeviceCode, 0); a.Error != "authorization_pending" {
				t.Fatalf("a poll that kept the interval = %+v", a)
			}
			q.clock.Advance(time.Duration(a.Interval) * time.Second)
			if a := q.poll(t, q.shell, da.DeviceCode, 0); a.Error != "authorization_pending" {
				t.Fatalf("a client keeping the interval was locked out: %+v", a)
			}
		})
	})
}

// TestQRRaces: of 50 concurrent confirms exactly one wins; of 50 concurrent polls
// after approval exactly one gets tokens.
func TestQRRaces(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) storage.Storage) {
		q := newQREnv(t, newStore(t))
		alice := q.newPhone(t, "alice", testPassword, "alice-phone")
		da := q.authorize(t, q.shell, "openid offline_access")
		sc := alice.scan(t, da.VerificationURIComplete)

		const n = 50
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				if c := alice.confirm(t, sc.ConfirmToken, true, ""); c.Status == http.StatusOK {
					wins.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d of %d concurrent confirms won, want exactly 1", wins.Load(), n)
		}

		pollRace(t, n, func(int) pollAnswer { return q.poll(t, q.shell, da.DeviceCode, 0) })
	})
}

// pollRace runs n polls at once (poll(i) is the i-th) of one approved session and
// checks DESIGN §4: exactly one gets tokens, every other invalid_grant.
func pollRace(t *testing.T, n int, poll func(i int) pollAnswer) {
	t.Helper()
	var tokens atomic.Int32
	answers := make(chan pollAnswer, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			a := poll(i)
			if a.AccessToken != "" {
				tokens.Add(1)
			}
			answers <- a
		})
	}
	close(start)
	wg.Wait()
	close(answers)
	if tokens.Load() != 1 {
		t.Fatalf("%d of %d concurrent polls got tokens, want exactly 1", tokens.Load(), n)
	}
	for a := range answers {
		if a.AccessToken == "" && a.Error != "invalid_grant" {
			t.Errorf("a losing poll got %+v, want invalid_grant", a)
		}
	}
}

// TestAdminRevokesDevice: an admin lists a user's devices and revokes one; its
// token stops working at once.
func TestAdminRevokesDevice(t *testing.T) {
	q := newQREnv(t, memoryStore())
	ph := q.newPhone(t, "alice", testPassword, "lost-phone")
	adminSrv := httptest.NewServer(q.p.AdminHandler())
	t.Cleanup(adminSrv.Close)
	call := func(method, path string) (int, string) {
		req, _ := http.NewRequest(method, adminSrv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer admin-token")
		resp, err := adminSrv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readBody(t, resp)
	}
	status, body := call(http.MethodGet, "/admin/v1/users/"+q.user.ID+"/devices")
	var list struct {
		Devices []struct {
			ID       string `json:"id"`
			DeviceID string `json:"device_id"`
		} `json:"devices"`
	}
	if err := json.Unmarshal([]byte(body), &list); status != http.StatusOK || err != nil || len(list.Devices) != 1 || list.Devices[0].DeviceID != "lost-phone" {
		t.Fatalf("devices = %d %s", status, body)
	}
	if strings.Contains(body, ph.token) {
		t.Fatal("the admin API shows the device token")
	}
	if status, _ := call(http.MethodDelete, "/admin/v1/devices/"+list.Devices[0].ID); status != http.StatusNoContent {
		t.Fatalf("revoke = %d", status)
	}
	if status, _ := ph.call(t, http.MethodGet, "/api/mobile/v1/devices", nil); status != http.StatusUnauthorized {
		t.Fatalf("the revoked device's token still works: %d", status)
	}
	if status, _ := call(http.MethodDelete, "/admin/v1/devices/"+list.Devices[0].ID); status != http.StatusNotFound {
		t.Fatalf("revoking twice = %d, want 404", status)
	}
}
