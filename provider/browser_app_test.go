package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/qrid/qrid/provider/admin"
	"github.com/qrid/qrid/provider/dpop"
	"github.com/qrid/qrid/storage"
)

// The mobile web app (/app, provider/webapp) in a real browser, at phone size: the
// person signs in with a password, and the app binds its device token to a
// WebCrypto key kept in IndexedDB (DPoP, RFC 9449). A PC (a device-flow client)
// asks for a sign-in; the person types its user code, or gives the app a photo of
// its QR, checks who asks on the confirmation screen, picks the number the PC shows
// and approves; the PC's poll gets tokens. The binding is checked from outside the
// browser: the server's record of the device names the browser key's
// thumbprint (jkt), the token taken out of the browser is refused without a proof,
// every proof the browser sent has a jti of its own and cannot be sent again, and
// signing out revokes the token on the server.

// pcUserAgent is the User-Agent of the PC that shows the QR: the confirmation
// screen must describe it.
const pcUserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

// The app's storage (provider/webapp/doc.go): the token and its binding in
// localStorage, the key pair in IndexedDB.
const (
	appTokenKey     = "qrid.token"
	appTokenTypeKey = "qrid.token_type"
	appDeviceIDKey  = "qrid.device_id"
	appSignInIDKey  = "qrid.sign_in_id"
)

// readAppKeyPair is a JavaScript promise of the app's DPoP key pair, read from its
// IndexedDB database ("qrid", store "keys", key "dpop"), or null. The database must
// exist already: opening it without a version would create it empty, without the
// app's store.
const readAppKeyPair = `new Promise((resolve, reject) => {
	const open = indexedDB.open("qrid");
	open.onerror = () => reject(open.error);
	open.onsuccess = () => {
		const db = open.result;
		try {
			const get = db.transaction("keys").objectStore("keys").get("dpop");
			get.onerror = () => { db.close(); reject(get.error); };
			get.onsuccess = () => { db.close(); resolve(get.result ?? null); };
		} catch (err) {
			db.close();
			reject(err);
		}
	};
})`

// appKey is what the test learns of the key pair in the app's IndexedDB.
type appKey struct {
	// Found is false when the database holds no key pair.
	Found bool `json:"found"`
	// Public is the public key as a JWK (public keys are always exportable).
	Public json.RawMessage `json:"public"`
	// PrivateExtractable is the private CryptoKey's extractable flag.
	PrivateExtractable bool `json:"privateExtractable"`
}

// sentProof is a DPoP proof the app sent, with the request it went with.
type sentProof struct {
	method, url, proof string
}

// appFlow is the mobile web app in a phone-sized tab of its own, against a qrid of
// its own (its scans count against alice's scan rate limit, so it shares no account
// with the other flows), with the DPoP proofs the app sent so far and the errors the
// page reported.
type appFlow struct {
	*tab
	q *qrEnv

	mu         sync.Mutex
	proofs     []sentProof
	pageErrors []string
}

// newAppFlow opens a phone-sized tab that records every DPoP proof the page sends
// to the mobile API, and every error the page reports: an uncaught exception, a
// console.error, a resource that failed to load or a Content-Security-Policy
// violation. The flow fails if there was any.
func (c *chrome) newAppFlow(t *testing.T) *appFlow {
	t.Helper()
	f := &appFlow{tab: c.newTab(t, phoneView), q: newQREnv(t, memoryStore())}
	api := f.q.issuer + "/api/mobile/v1/"
	err := chromedp.Listen(f.ctx, func(ev any) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			if !strings.HasPrefix(e.Request.URL, api) {
				return
			}
			for name, v := range e.Request.Headers {
				if proof, ok := v.(string); ok && strings.EqualFold(name, dpop.HeaderName) {
					f.proofs = append(f.proofs, sentProof{method: e.Request.Method, url: e.Request.URL, proof: proof})
				}
			}
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			f.pageErrors = append(f.pageErrors, fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
		case *runtime.EventConsoleAPICalled:
			if e.Type != runtime.ConsoleAPICalledTypeError {
				return
			}
			var args []string
			for _, a := range e.Args {
				if a.Description != "" {
					args = append(args, a.Description)
				} else {
					args = append(args, string(a.Value))
				}
			}
			f.pageErrors = append(f.pageErrors, "console.error: "+strings.Join(args, " "))
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError {
				f.pageErrors = append(f.pageErrors, fmt.Sprintf("%s error: %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL))
			}
		}
	})
	if err != nil {
		t.Fatalf("follow the tab's requests: %v", err)
	}
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.pageErrors) > 0 {
			t.Errorf("the app reported errors in the browser:\n%s", strings.Join(f.pageErrors, "\n"))
		}
	})
	return f
}

// sent returns the proofs the app sent so far.
func (f *appFlow) sent() []sentProof {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.proofs)
}

// storageItem reads one of the app's localStorage items ("" when absent).
func (f *appFlow) storageItem(key string) string {
	f.t.Helper()
	return eval[string](f.tab, fmt.Sprintf(`localStorage.getItem(%q) ?? ""`, key))
}

// key reads the app's key pair out of IndexedDB.
func (f *appFlow) key() appKey {
	f.t.Helper()
	return eval[appKey](f.tab, `(async () => {
		const pair = await `+readAppKeyPair+`;
		if (!pair) return { found: false, public: null, privateExtractable: false };
		return { found: true, public: await crypto.subtle.exportKey("jwk", pair.publicKey),
			privateExtractable: pair.privateKey.extractable };
	})()`)
}

// keyThumbprint is the RFC 7638 thumbprint (jkt) of the key pair in the app's
// IndexedDB; the private key must not be exportable.
func (f *appFlow) keyThumbprint() string {
	f.t.Helper()
	k := f.key()
	if !k.Found {
		f.t.Fatal("the app keeps no DPoP key pair in IndexedDB")
	}
	if k.PrivateExtractable {
		f.t.Error("the app's private DPoP key can be exported")
	}
	var jwk jose.JSONWebKey
	if err := json.Unmarshal(k.Public, &jwk); err != nil {
		f.t.Fatalf("the app's public key %s: %v", k.Public, err)
	}
	jkt, err := dpop.Thumbprint(jwk.Key)
	if err != nil {
		f.t.Fatal(err)
	}
	return jkt
}

// proofFromPage has the page sign a fresh proof for method and path of the mobile
// API with the app's key, for the app's token: what only a holder of the key can
// make. The page does not send it.
func (f *appFlow) proofFromPage(method, path string) string {
	f.t.Helper()
	return eval[string](f.tab, fmt.Sprintf(`(async () => {
		const { htuOf, makeProof } = await import("/static/app/dpop.js");
		const keyPair = await %s;
		return makeProof({ keyPair, method: %q, htu: htuOf(%q, %q), token: localStorage.getItem(%q) });
	})()`, readAppKeyPair, method, f.q.issuer, path, appTokenKey))
}

// signIn signs alice in through the app's form and returns what the app keeps.
func (f *appFlow) signIn() (token, deviceID, signInID string) {
	f.t.Helper()
	f.do("open /app", chromedp.Navigate(f.q.issuer+"/app"), chromedp.WaitVisible(chromedp.ID("username")))
	f.fits()
	f.shot("app-signin")
	f.do("sign in with the password",
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.ID("view-scan")),
		chromedp.WaitVisible(chromedp.ID("user-code")))
	f.fits()
	f.shot("app-scan")
	if tt := f.storageItem(appTokenTypeKey); tt != dpop.Scheme {
		f.t.Fatalf("the app's token is of type %q, want %s", tt, dpop.Scheme)
	}
	token, deviceID, signInID = f.storageItem(appTokenKey), f.storageItem(appDeviceIDKey), f.storageItem(appSignInIDKey)
	if token == "" || deviceID == "" || signInID == "" {
		f.t.Fatalf("after the sign-in the app keeps token %q, device_id %q, sign-in %q", token, deviceID, signInID)
	}
	return token, deviceID, signInID
}

// pcSignIn is a sign-in started on a PC: its device authorization and, once the
// PC's token poll ends, its tokens.
type pcSignIn struct {
	auth deviceAuth
	done chan pcTokens
}

type pcTokens struct {
	tok *oauth2.Token
	err error
}

// startPC asks for a sign-in as the living-room TV (a public device-flow client
// with number matching), from a browser on Linux, and starts polling for its tokens
// as an unmodified x/oauth2 client does.
func (f *appFlow) startPC() *pcSignIn {
	f.t.Helper()
	q := f.q
	pc := &http.Client{Transport: userAgentTransport{base: q.srv.Client().Transport, userAgent: pcUserAgent}}
	status, body := q.postFormWith(f.t, pc, "/oauth2/device/auth", q.tv, url.Values{"scope": {"openid profile"}})
	if status != http.StatusOK {
		f.t.Fatalf("device authorization: %d %s", status, body)
	}
	s := &pcSignIn{done: make(chan pcTokens, 1)}
	if err := json.Unmarshal(body, &s.auth); err != nil {
		f.t.Fatal(err)
	}
	if s.auth.UserCode == "" || s.auth.MatchCode == "" || s.auth.QRImageURI == "" {
		f.t.Fatalf("device authorization = %+v; want a user code, a match code and a QR image", s.auth)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*stepTimeout)
	f.t.Cleanup(cancel)
	ctx = context.WithValue(ctx, oauth2.HTTPClient, pc)
	da := &oauth2.DeviceAuthResponse{DeviceCode: s.auth.DeviceCode, UserCode: s.auth.UserCode,
		VerificationURI: s.auth.VerificationURI, Interval: int64(s.auth.Interval)}
	go func() {
		tok, err := q.deviceConfig(q.tv, "openid", "profile").DeviceAccessToken(ctx, da)
		s.done <- pcTokens{tok, err}
	}()
	return s
}

// userAgentTransport sends every request with its own User-Agent.
type userAgentTransport struct {
	base      http.RoundTripper
	userAgent string
}

func (u userAgentTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", u.userAgent)
	return u.base.RoundTrip(r)
}

// signedIn waits, within stepTimeout, for the PC's poll to end, and checks that it
// got tokens for alice, approved from the app's device (qrid_device).
func (s *pcSignIn) signedIn(t *testing.T, q *qrEnv, signInID string) {
	t.Helper()
	var res pcTokens
	select {
	case res = <-s.done:
	case <-time.After(stepTimeout):
		t.Fatalf("the PC got no tokens within %s of the approval", stepTimeout)
	}
	if res.err != nil {
		t.Fatalf("the PC's token poll: %v", res.err)
	}
	raw, _ := res.tok.Extra("id_token").(string)
	if res.tok.AccessToken == "" || raw == "" {
		t.Fatalf("the PC got %+v, want an access token and an ID token", res.tok)
	}
	idt, err := q.verifier(q.tv.ClientID).Verify(q.ctx(), raw)
	if err != nil {
		t.Fatalf("the PC's ID token: %v", err)
	}
	var claims struct {
		AMR    []string `json:"amr"`
		Device string   `json:"qrid_device"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != q.user.ID || !slices.Contains(claims.AMR, "qr") || claims.Device != signInID {
		t.Fatalf("the PC's ID token says sub=%s amr=%v qrid_device=%s; want sub=%s amr [qr] qrid_device=%s",
			idt.Subject, claims.AMR, claims.Device, q.user.ID, signInID)
	}
}

// confirmAndApprove checks the confirmation screen the app shows for s and picks
// the number the PC shows.
func (f *appFlow) confirmAndApprove(s *pcSignIn, shot string) {
	f.t.Helper()
	f.do("the app shows the confirmation screen", chromedp.WaitVisible(chromedp.ID("view-confirm")))
	f.fits()
	for id, want := range map[string]string{
		"client-name": "Living room TV",
		"client-host": "tv.example.com",
		"req-ip":      "127.0.0.1",
		"req-device":  "Firefox on Linux",
		"req-ua":      pcUserAgent,
	} {
		if got := f.text(id); got != want {
			f.t.Errorf("the confirmation screen's #%s reads %q, want %q", id, got, want)
		}
	}
	if scopes := eval[[]string](f.tab, `[...document.querySelectorAll("#scopes li")].map(li => li.dataset.scope)`); !slices.Equal(scopes, []string{"openid", "profile"}) {
		f.t.Errorf("the confirmation screen lists the scopes %v, want [openid profile]", scopes)
	}
	// Number matching: three numbers, one of them the PC's, and no plain Approve.
	f.visible("match")
	choices := eval[[]string](f.tab, `[...document.querySelectorAll(".match-choice")].filter(b => !b.hidden).map(b => b.value)`)
	if len(choices) != 3 || !slices.Contains(choices, s.auth.MatchCode) {
		f.t.Fatalf("the app offers the numbers %v; the PC shows %s", choices, s.auth.MatchCode)
	}
	if eval[bool](f.tab, `!document.getElementById("approve").hidden`) {
		f.t.Error("the app offers a plain Approve although the sign-in needs number matching")
	}
	f.shot(shot)
	f.do("pick the number the PC shows",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`.match-choice[value=%q]`, s.auth.MatchCode))),
		chromedp.WaitVisible(chromedp.ID("view-result")))
	if f.text("result-title") == "" {
		f.t.Error("the outcome screen has no title")
	}
}

// mobileAnswer is the mobile API's answer to a request the test makes with the
// app's token, from outside the browser.
type mobileAnswer struct {
	Status    int
	Challenge string         // the WWW-Authenticate values, joined
	Error     string         `json:"error"`
	Message   string         `json:"message"`
	Devices   []mobileDevice `json:"devices"`
}

// mobileDevice is one entry of the mobile API's devices list.
type mobileDevice struct {
	ID      string `json:"id"`
	Current bool   `json:"current"`
}

// listDevicesWith calls GET /api/mobile/v1/devices with the token as scheme and,
// when proof is not "", a DPoP header.
func (q *qrEnv) listDevicesWith(t *testing.T, scheme, token, deviceID, proof string) mobileAnswer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, q.issuer+"/api/mobile/v1/devices", nil)
	req.Header.Set("Authorization", scheme+" "+token)
	req.Header.Set("X-Device-Id", deviceID)
	if proof != "" {
		req.Header.Set(dpop.HeaderName, proof)
	}
	return q.doMobile(t, req)
}

func (q *qrEnv) doMobile(t *testing.T, req *http.Request) mobileAnswer {
	t.Helper()
	resp, err := q.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	body := readBody(t, resp)
	a := mobileAnswer{Status: resp.StatusCode, Challenge: strings.Join(resp.Header.Values("WWW-Authenticate"), ", ")}
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("%s %s answered %d, not JSON: %s", req.Method, req.URL.Path, resp.StatusCode, body)
	}
	return a
}

// proofSeen is a proof the app sent, read independently of the server: its key's
// thumbprint and its claims, once its signature verifies with the jwk it carries.
type proofSeen struct {
	jkt                string
	htm, htu, jti, ath string
}

func readSentProof(t *testing.T, p sentProof) proofSeen {
	t.Helper()
	jws, err := jose.ParseSignedCompact(p.proof, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("the proof sent with %s %s is not an ES256 JWS: %v", p.method, p.url, err)
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != dpop.Type || h.JSONWebKey == nil || !h.JSONWebKey.IsPublic() {
		t.Fatalf("the proof sent with %s %s has typ %q and jwk %v; want %s and a public key", p.method, p.url, typ, h.JSONWebKey, dpop.Type)
	}
	payload, err := jws.Verify(h.JSONWebKey.Key)
	if err != nil {
		t.Fatalf("the proof sent with %s %s does not verify with its own jwk: %v", p.method, p.url, err)
	}
	var c struct {
		HTM string `json:"htm"`
		HTU string `json:"htu"`
		JTI string `json:"jti"`
		ATH string `json:"ath"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	jkt, err := dpop.Thumbprint(h.JSONWebKey.Key)
	if err != nil {
		t.Fatal(err)
	}
	return proofSeen{jkt: jkt, htm: c.HTM, htu: c.HTU, jti: c.JTI, ath: c.ATH}
}

// checkProofs checks every proof the app sent: each for its own request, signed
// with the key the device is bound to, for the token (but the sign-in's), and with
// a jti of its own. It returns the last one sent to path.
func (f *appFlow) checkProofs(jkt, token, path string) sentProof {
	f.t.Helper()
	var last sentProof
	jtis := map[string]string{}
	for _, p := range f.sent() {
		seen := readSentProof(f.t, p)
		u, err := url.Parse(p.url)
		if err != nil {
			f.t.Fatal(err)
		}
		what := p.method + " " + u.Path
		if seen.htm != p.method || seen.htu != f.q.issuer+u.Path {
			f.t.Errorf("the proof sent with %s names htm %q htu %q", what, seen.htm, seen.htu)
		}
		if seen.jkt != jkt {
			f.t.Errorf("the proof sent with %s is signed by the key %s, not the device's %s", what, seen.jkt, jkt)
		}
		wantATH := dpop.TokenHash(token)
		if u.Path == "/api/mobile/v1/login" {
			wantATH = ""
		}
		if seen.ath != wantATH {
			f.t.Errorf("the proof sent with %s has ath %q, want %q", what, seen.ath, wantATH)
		}
		if seen.jti == "" {
			f.t.Errorf("the proof sent with %s has no jti", what)
		} else if earlier, ok := jtis[seen.jti]; ok {
			f.t.Errorf("the proofs sent with %s and %s share the jti %s", earlier, what, seen.jti)
		}
		jtis[seen.jti] = what
		if u.Path == path {
			last = p
		}
	}
	if last.proof == "" {
		f.t.Fatalf("the app sent no proof with %s", path)
	}
	return last
}

// testMobileWebApp is the "mobile web app" flow of TestBrowser.
func testMobileWebApp(t *testing.T, c *chrome) {
	f := c.newAppFlow(t)
	q := f.q
	ctx := q.ctx()

	// 1. Sign in through the form.
	token, deviceID, signInID := f.signIn()

	// 2. The token is bound to the key in the browser. The server's record of the
	// device names the key's thumbprint, and the admin API says it is sender-bound.
	jkt := f.keyThumbprint()
	device, err := q.store.GetDevice(ctx, signInID)
	if err != nil {
		t.Fatalf("the server has no device %s after the app's sign-in: %v", signInID, err)
	}
	if device.DPoPThumbprint != jkt || device.DeviceID != deviceID || device.DeviceType != "web" || device.AccountID != q.user.ID {
		t.Fatalf("the server keeps the device as jkt=%q device_id=%q type=%q account=%q; the browser's key is %s, its device_id %s",
			device.DPoPThumbprint, device.DeviceID, device.DeviceType, device.AccountID, jkt, deviceID)
	}
	listed, err := q.p.Admin().ListUserDevices(ctx, q.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(listed, func(d admin.DeviceInfo) bool { return d.ID == signInID }); i < 0 || !listed[i].SenderBound {
		t.Fatalf("the admin API lists %+v; want %s, sender-constrained", listed, signInID)
	}

	// The token taken out of the browser is refused without a proof: as a bearer
	// token, and as a DPoP token without the DPoP header.
	if a := q.listDevicesWith(t, "Bearer", token, deviceID, ""); a.Status != http.StatusUnauthorized ||
		!strings.HasPrefix(a.Challenge, dpop.Scheme+" ") || !strings.Contains(a.Challenge, `error="invalid_token"`) {
		t.Fatalf("the app's token sent as a bearer token: %d %q %s", a.Status, a.Challenge, a.Message)
	}
	if a := q.listDevicesWith(t, dpop.Scheme, token, deviceID, ""); a.Status != http.StatusUnauthorized ||
		a.Error != "invalid_dpop_proof" || !strings.Contains(a.Challenge, `error="invalid_dpop_proof"`) {
		t.Fatalf("the app's token sent without a proof: %d %s %q %s", a.Status, a.Error, a.Challenge, a.Message)
	}
	// With a fresh proof signed by the browser's key the same request is served:
	// the refusals above were for the missing proof, not for a bad token.
	if a := q.listDevicesWith(t, dpop.Scheme, token, deviceID, f.proofFromPage(http.MethodGet, "/api/mobile/v1/devices")); a.Status != http.StatusOK ||
		!slices.Contains(a.Devices, mobileDevice{ID: signInID, Current: true}) {
		t.Fatalf("the app's token with a proof from the browser's key: %d %s %+v", a.Status, a.Message, a.Devices)
	}

	// 3. A PC asks for a sign-in; the person types its user code into the app.
	pc := f.startPC()
	f.do("type the PC's user code",
		chromedp.SendKeys(chromedp.ID("user-code"), pc.auth.UserCode),
		chromedp.Click(chromedp.ID("submit-code")))
	f.confirmAndApprove(pc, "app-confirm")
	f.shot("app-approved")

	// Every proof so far was the browser key's, each with a jti of its own. The
	// decision's proof, sent again from outside the browser at once (still fresh,
	// its signature, htu and ath right), is refused: its jti is used.
	confirm := f.checkProofs(jkt, token, "/api/mobile/v1/qr/confirm")
	req, _ := http.NewRequest(http.MethodPost, confirm.url, strings.NewReader(`{"confirm_token":"x","approve":true}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", dpop.Scheme+" "+token)
	req.Header.Set("X-Device-Id", deviceID)
	req.Header.Set(dpop.HeaderName, confirm.proof)
	if a := q.doMobile(t, req); a.Status != http.StatusUnauthorized || a.Error != "invalid_dpop_proof" {
		t.Fatalf("the app's confirm proof sent again: %d %s %s", a.Status, a.Error, a.Message)
	}
	pc.signedIn(t, q, signInID)

	// 4. After a reload the app is still signed in, with the same key, and a second
	// sign-in works: this time from a photo of the PC's QR code.
	f.do("reload /app", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("view-scan")))
	if eval[bool](f.tab, `!document.getElementById("view-signin").hidden`) {
		t.Fatal("after a reload the app asks to sign in again")
	}
	if got := f.keyThumbprint(); got != jkt {
		t.Fatalf("after a reload the app's key is %s, not %s", got, jkt)
	}
	if got := f.storageItem(appTokenKey); got != token {
		t.Fatal("after a reload the app holds another token")
	}
	pc2 := f.startPC()
	f.do("give the app a photo of the PC's QR", chromedp.SetUploadFiles(chromedp.ID("photo"),
		[]string{q.saveQRImage(t, pc2.auth.QRImageURI)}, chromedp.NodeReady))
	f.confirmAndApprove(pc2, "app-confirm-photo")
	pc2.signedIn(t, q, signInID)
	f.checkProofs(jkt, token, "/api/mobile/v1/qr/confirm")
	var calls []string
	for _, p := range f.sent() {
		calls = append(calls, p.method+" "+strings.TrimPrefix(p.url, q.issuer))
	}
	if want := []string{"POST /api/mobile/v1/login", "POST /api/mobile/v1/qr/scan", "POST /api/mobile/v1/qr/confirm",
		"POST /api/mobile/v1/qr/scan", "POST /api/mobile/v1/qr/confirm"}; !slices.Equal(calls, want) {
		t.Fatalf("the app sent proofs with %q, want one with each of %q", calls, want)
	}

	// 5. Signing out in the app revokes the token on the server: even with a fresh
	// proof from the browser's key (made before the app forgot it) it is refused.
	proof := f.proofFromPage(http.MethodGet, "/api/mobile/v1/devices")
	f.do("open the devices", chromedp.Click(chromedp.ID("nav-devices")),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#device-list li.current-device[data-id=%q]`, signInID))))
	f.fits()
	f.shot("app-devices")
	f.do("sign out", chromedp.Click(chromedp.ID("sign-out")), chromedp.WaitVisible(chromedp.ID("view-signin")))
	f.shot("app-signed-out")
	f.checkProofs(jkt, token, "/api/mobile/v1/logout")
	if _, err := q.store.GetDevice(ctx, signInID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("after signing out the server still has the device %s: %v", signInID, err)
	}
	if a := q.listDevicesWith(t, dpop.Scheme, token, deviceID, proof); a.Status != http.StatusUnauthorized || a.Error != "unauthorized" {
		t.Fatalf("the signed-out token with a fresh proof: %d %s %s", a.Status, a.Error, a.Message)
	}
	if left := f.storageItem(appTokenKey) + f.storageItem(appDeviceIDKey); left != "" {
		t.Errorf("after signing out the app still keeps %q", left)
	}
	// The app deletes its key without waiting: wait (within stepTimeout) until it is
	// gone.
	eval[bool](f.tab, `new Promise(resolve => {
		const check = () => `+readAppKeyPair+`.then(pair => pair ? setTimeout(check, 25) : resolve(true));
		check();
	})`)
}

// saveQRImage downloads the PNG of a QR session's code into a file for the
// browser's file input, and returns its path.
func (q *qrEnv) saveQRImage(t *testing.T, uri string) string {
	t.Helper()
	resp, err := q.srv.Client().Get(uri)
	if err != nil {
		t.Fatalf("GET %s: %v", uri, err)
	}
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET %s = %d %s", uri, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	file := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}
