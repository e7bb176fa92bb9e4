package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/spf13/cobra"
	"golang.org/x/oauth2"
)

// grantTypeDeviceCode is the grant type of RFC 8628 §3.4.
const grantTypeDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// longPollWait is the wait (seconds) that qrid login asks of the token endpoint: the
// largest the long-poll extension allows.
const longPollWait = 25

// loginConfig is the configuration of `qrid login`.
type loginConfig struct {
	issuer       string
	clientID     string
	clientSecret string
	scope        string
	noWait       bool
	printTokens  bool
}

// loginDeps are what `qrid login` waits with; tests pass a clock that does not sleep.
type loginDeps struct {
	// sleep waits d or until ctx ends.
	sleep func(ctx context.Context, d time.Duration) error
	now   func() time.Time
}

var realLoginDeps = loginDeps{sleep: sleepContext, now: time.Now}

func (a *app) newLoginCmd() *cobra.Command { return a.loginCommand(realLoginDeps) }

func (a *app) loginCommand(deps loginDeps) *cobra.Command {
	var cfg loginConfig
	cmd := &cobra.Command{
		Use:   "login --issuer URL --client-id ID",
		Short: "Sign in from this terminal with a QR code scanned by the qrid app",
		Long: "Sign in from this terminal as an OAuth client of a qrid issuer: qrid login asks for\n" +
			"a QR sign-in (RFC 8628 device authorization), draws the QR code in the terminal\n" +
			"and waits while the person scans it with the qrid app and confirms on the phone.\n" +
			"It then verifies the ID token and prints its claims as JSON on standard output;\n" +
			"with --print-tokens the output is {\"claims\": ..., \"access_token\": ..., ...}.\n\n" +
			"By default it waits with qrid's long-poll extension (wait=25), so the sign-in\n" +
			"completes the moment it is confirmed; --no-wait polls as any RFC 8628 client does.\n" +
			"A confidential client gives its secret as QRID_CLIENT_SECRET (or --client-secret).\n" +
			"Everything but the result is written on standard error. Ctrl-C cancels.",
		Example: "  qrid login --issuer https://id.example.com --client-id tv-app\n" +
			"  QRID_CLIENT_SECRET=... qrid login --issuer https://id.example.com --client-id cli --scope \"openid email\"",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			err := a.login(ctx, cfg, deps)
			if errors.Is(err, context.Canceled) {
				return errors.New("sign-in cancelled")
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.issuer, "issuer", "", "issuer URL of the qrid provider (required)")
	f.StringVar(&cfg.clientID, "client-id", "", "client ID registered for the device_code grant (required)")
	f.StringVar(&cfg.clientSecret, "client-secret", "", "client secret of a confidential client (better given as QRID_CLIENT_SECRET)")
	f.StringVar(&cfg.scope, "scope", "openid profile email", "space-separated scopes to ask for")
	f.BoolVar(&cfg.noWait, "no-wait", false, "poll as a plain RFC 8628 client (no long-poll)")
	f.BoolVar(&cfg.printTokens, "print-tokens", false, "also print the access, ID and refresh tokens")
	return cmd
}

// login runs the whole sign-in.
func (a *app) login(ctx context.Context, cfg loginConfig, deps loginDeps) error {
	if err := cfg.check(); err != nil {
		return err
	}
	httpClient := &http.Client{
		// A long-poll holds a request for up to 25 seconds.
		Timeout: 2 * time.Minute,
	}
	ctx = oidc.ClientContext(ctx, httpClient)
	provider, err := oidc.NewProvider(ctx, cfg.issuer)
	if err != nil {
		return fmt.Errorf("discovering the issuer %s: %w", cfg.issuer, err)
	}
	var meta struct {
		DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		return fmt.Errorf("reading the discovery document of %s: %w", cfg.issuer, err)
	}
	if meta.DeviceAuthorizationEndpoint == "" {
		return fmt.Errorf("the issuer %s announces no device_authorization_endpoint: it offers no QR sign-in for terminals", cfg.issuer)
	}
	rp := &deviceClient{
		http:         httpClient,
		clientID:     cfg.clientID,
		clientSecret: cfg.clientSecret,
	}

	auth, err := rp.authorize(ctx, meta.DeviceAuthorizationEndpoint, cfg.scope)
	if err != nil {
		return err
	}
	if err := a.showQR(auth); err != nil {
		return err
	}
	started := deps.now()
	// The server ends the session with expired_token; the deadline only guards
	// against a server that never says so (a long-poll may end just after expiry).
	ctx, cancel := context.WithDeadlineCause(ctx,
		started.Add(time.Duration(auth.ExpiresIn)*time.Second+(longPollWait+5)*time.Second), errQRExpired)
	defer cancel()

	var tok *tokenResponse
	if cfg.noWait {
		tok, err = rp.pollStandard(ctx, provider.Endpoint().TokenURL, meta.DeviceAuthorizationEndpoint, cfg.scope, auth, started)
	} else {
		p := &devicePoller{
			client:     rp,
			tokenURL:   provider.Endpoint().TokenURL,
			deviceCode: auth.DeviceCode,
			interval:   auth.interval(),
			deps:       deps,
			onStatus: func(status string) {
				if status == "scanned" {
					fmt.Fprintln(a.stderr, "Scanned — confirm on your phone.")
				}
			},
		}
		tok, err = p.poll(ctx)
	}
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, errQRExpired) {
			return errQRExpired
		}
		return err
	}

	claims, err := verifyIDToken(ctx, provider, cfg.clientID, tok)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stderr, "Signed in.")
	var out any = claims
	if cfg.printTokens {
		out = struct {
			Claims json.RawMessage `json:"claims"`
			*tokenResponse
		}{claims, tok}
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.stdout, "%s\n", data)
	return err
}

// check reports a missing or malformed flag.
func (cfg *loginConfig) check() error {
	var problems []string
	if u, err := url.Parse(cfg.issuer); cfg.issuer == "" {
		problems = append(problems, "--issuer is required")
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Sprintf("--issuer %q must be an http(s) URL such as https://id.example.com", cfg.issuer))
	}
	if strings.TrimSpace(cfg.clientID) == "" {
		problems = append(problems, "--client-id is required")
	}
	if len(strings.Fields(cfg.scope)) == 0 {
		problems = append(problems, "--scope must not be empty")
	}
	if len(problems) > 0 {
		return usageError{errors.New(strings.Join(problems, "; "))}
	}
	return nil
}

// showQR prints the QR code and what goes with it on standard error.
func (a *app) showQR(auth *deviceAuthorization) error {
	w := a.stderr
	if auth.VerificationURIComplete != "" {
		art, err := terminalQR(auth.VerificationURIComplete)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, "Scan this QR code with the qrid app:")
		fmt.Fprintln(w)
		fmt.Fprint(w, art)
		fmt.Fprintln(w)
		fmt.Fprintf(w, "Or open %s and enter the code %s\n", auth.VerificationURI, auth.UserCode)
		fmt.Fprintf(w, "The QR holds %s (qrid phone scan accepts it as text)\n", auth.VerificationURIComplete)
	} else {
		fmt.Fprintf(w, "Open %s and enter the code %s\n", auth.VerificationURI, auth.UserCode)
	}
	if auth.MatchCode != "" {
		fmt.Fprintf(w, "Check that your phone shows %s\n", auth.MatchCode)
	}
	if auth.ExpiresIn > 0 {
		fmt.Fprintf(w, "The code expires in %s.\n", time.Duration(auth.ExpiresIn)*time.Second)
	}
	fmt.Fprintln(w, "Waiting for the phone...")
	return nil
}

// errQRExpired ends a sign-in whose QR session expired.
var errQRExpired = errors.New("the QR code expired before the sign-in was confirmed; run qrid login again")

// deniedError is an access_denied answer of the token endpoint.
type deniedError struct {
	status      string // qr_status: denied, contested, wrong_match, or empty
	description string
}

func (e *deniedError) Error() string {
	switch e.status {
	case "denied":
		return "the sign-in was refused on the phone"
	case "contested":
		return "Another device scanned this code; it was closed for your safety. Run qrid login again to get a new code"
	case "wrong_match":
		return "the wrong number was picked on the phone, so the sign-in was refused; run qrid login again"
	}
	if e.description != "" {
		return "the sign-in was refused: " + e.description
	}
	return "the sign-in was refused"
}

// deviceClient is an OAuth client talking to the device authorization and token
// endpoints.
type deviceClient struct {
	http         *http.Client
	clientID     string
	clientSecret string
}

// deviceAuthorization is the device authorization response (RFC 8628 §3.2) with
// qrid's extensions.
type deviceAuthorization struct {
	DeviceCode              string      `json:"device_code"`
	UserCode                string      `json:"user_code"`
	VerificationURI         string      `json:"verification_uri"`
	VerificationURIComplete string      `json:"verification_uri_complete"`
	ExpiresIn               int64       `json:"expires_in"`
	Interval                int64       `json:"interval"`
	QRImageURI              string      `json:"qr_image_uri"`
	MatchCode               matchNumber `json:"match_code"`
}

// interval is the announced polling interval; RFC 8628 §3.2 says 5 seconds when
// none is given.
func (d *deviceAuthorization) interval() time.Duration {
	if d.Interval <= 0 || d.Interval > 3600 {
		return 5 * time.Second
	}
	return time.Duration(d.Interval) * time.Second
}

// matchNumber is a number-matching number, given in JSON as a string or a number.
type matchNumber string

func (m *matchNumber) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*m = matchNumber(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("a match number must be a string or a number, not %s", b)
	}
	i, err := n.Int64()
	if err != nil || i < 0 {
		return fmt.Errorf("invalid match number %s", b)
	}
	*m = matchNumber(fmt.Sprintf("%02d", i))
	return nil
}

// tokenResponse is a successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type,omitempty"`
	ExpiresIn    int64  `json:"expires_in,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// oauthError is an error response (RFC 6749 §5.2) with qrid's qr_status.
type oauthError struct {
	HTTPStatus  int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description"`
	QRStatus    string `json:"qr_status"`
}

func (e *oauthError) Error() string {
	if e.Description != "" {
		return fmt.Sprintf("%s (%s)", e.Description, e.Code)
	}
	return e.Code
}

// post sends an authenticated form to endpoint and decodes a 2xx JSON answer into
// v; an RFC 6749 error answer is an *oauthError.
func (c *deviceClient) post(ctx context.Context, endpoint string, form url.Values, v any) error {
	form.Set("client_id", c.clientID)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.clientSecret != "" {
		// RFC 6749 §2.3.1: both are form-encoded before Basic encoding.
		req.SetBasicAuth(url.QueryEscape(c.clientID), url.QueryEscape(c.clientSecret))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("cannot reach %s: %v", endpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading the answer of %s: %w", endpoint, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, v); err != nil {
			return fmt.Errorf("%s answered something that is not the expected JSON: %v", endpoint, err)
		}
		return nil
	}
	e := &oauthError{HTTPStatus: resp.StatusCode}
	if json.Unmarshal(data, e) == nil && e.Code != "" {
		return e
	}
	return fmt.Errorf("unexpected answer from %s: HTTP %d: %s", endpoint, resp.StatusCode, shortText(data, resp.StatusCode))
}

// shortText is the start of an unexpected answer's body, for an error message.
func shortText(data []byte, status int) string {
	text := strings.TrimSpace(string(data))
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	if text == "" {
		text = http.StatusText(status)
	}
	return text
}

// authorize sends the device authorization request (RFC 8628 §3.1).
func (c *deviceClient) authorize(ctx context.Context, endpoint, scope string) (*deviceAuthorization, error) {
	var auth deviceAuthorization
	err := c.post(ctx, endpoint, url.Values{"scope": {scope}}, &auth)
	var oe *oauthError
	switch {
	case errors.As(err, &oe):
		return nil, fmt.Errorf("the issuer refused the QR sign-in request: %v", oe)
	case err != nil:
		return nil, err
	}
	if auth.DeviceCode == "" || (auth.VerificationURI == "" && auth.VerificationURIComplete == "") {
		return nil, fmt.Errorf("the answer of %s lacks device_code or verification_uri", endpoint)
	}
	return &auth, nil
}

// devicePoller polls the token endpoint with the long-poll extension until the
// sign-in ends (RFC 8628 §3.4–3.5 plus wait=N).
type devicePoller struct {
	client     *deviceClient
	tokenURL   string
	deviceCode string
	interval   time.Duration
	deps       loginDeps
	// onStatus is called each time qr_status changes (pending, scanned).
	onStatus func(status string)
}

// poll returns the tokens once the sign-in is approved.
func (p *devicePoller) poll(ctx context.Context) (*tokenResponse, error) {
	form := url.Values{
		"grant_type":  {grantTypeDeviceCode},
		"device_code": {p.deviceCode},
		"wait":        {strconv.Itoa(longPollWait)},
	}
	status := "pending"
	for {
		sent := p.deps.now()
		var tok tokenResponse
		err := p.client.post(ctx, p.tokenURL, form, &tok)
		if err == nil {
			if tok.AccessToken == "" {
				return nil, fmt.Errorf("the token endpoint %s answered without an access_token", p.tokenURL)
			}
			return &tok, nil
		}
		var oe *oauthError
		if !errors.As(err, &oe) {
			return nil, err
		}
		// The next poll waits what is left of the interval since this one was sent:
		// a long-poll that was held that long, or that brings news, is followed at once.
		next := p.interval - p.deps.now().Sub(sent)
		switch oe.Code {
		case "authorization_pending":
			if oe.QRStatus != "" && oe.QRStatus != status {
				status = oe.QRStatus
				next = 0
				if p.onStatus != nil {
					p.onStatus(status)
				}
			}
		case "slow_down":
			// RFC 8628 §3.5: this and every later poll waits 5 seconds more.
			p.interval += 5 * time.Second
			next = p.interval
		case "access_denied":
			return nil, &deniedError{status: oe.QRStatus, description: oe.Description}
		case "expired_token":
			return nil, errQRExpired
		default:
			return nil, fmt.Errorf("the token endpoint refused the sign-in: %v", oe)
		}
		if next > 0 {
			if err := p.deps.sleep(ctx, next); err != nil {
				return nil, err
			}
		}
	}
}

// pollStandard polls as a plain RFC 8628 client, with x/oauth2's DeviceAccessToken.
func (c *deviceClient) pollStandard(ctx context.Context, tokenURL, deviceAuthURL, scope string, auth *deviceAuthorization, started time.Time) (*tokenResponse, error) {
	style := oauth2.AuthStyleInParams
	if c.clientSecret != "" {
		style = oauth2.AuthStyleInHeader
	}
	conf := &oauth2.Config{
		ClientID:     c.clientID,
		ClientSecret: c.clientSecret,
		Endpoint:     oauth2.Endpoint{DeviceAuthURL: deviceAuthURL, TokenURL: tokenURL, AuthStyle: style},
		Scopes:       strings.Fields(scope),
	}
	da := &oauth2.DeviceAuthResponse{
		DeviceCode:              auth.DeviceCode,
		UserCode:                auth.UserCode,
		VerificationURI:         auth.VerificationURI,
		VerificationURIComplete: auth.VerificationURIComplete,
		Interval:                int64(auth.interval() / time.Second),
	}
	if auth.ExpiresIn > 0 {
		da.Expiry = started.Add(time.Duration(auth.ExpiresIn) * time.Second)
	}
	tok, err := conf.DeviceAccessToken(context.WithValue(ctx, oauth2.HTTPClient, c.http), da)
	if err != nil {
		var re *oauth2.RetrieveError
		switch {
		case errors.As(err, &re) && re.ErrorCode == "access_denied":
			var body oauthError
			_ = json.Unmarshal(re.Body, &body)
			return nil, &deniedError{status: body.QRStatus, description: re.ErrorDescription}
		case errors.As(err, &re) && re.ErrorCode == "expired_token",
			errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil: // da.Expiry passed
			return nil, errQRExpired
		case errors.As(err, &re) && re.ErrorCode != "":
			desc := re.ErrorDescription
			if desc == "" {
				desc = re.ErrorCode
			}
			return nil, fmt.Errorf("the token endpoint refused the sign-in: %s (%s)", desc, re.ErrorCode)
		}
		return nil, err
	}
	out := &tokenResponse{
		AccessToken:  tok.AccessToken,
		TokenType:    tok.TokenType,
		ExpiresIn:    tok.ExpiresIn,
		RefreshToken: tok.RefreshToken,
	}
	if s, ok := tok.Extra("id_token").(string); ok {
		out.IDToken = s
	}
	if s, ok := tok.Extra("scope").(string); ok {
		out.Scope = s
	}
	return out, nil
}

// verifyIDToken verifies the ID token of tok (signature, issuer, audience, expiry,
// and at_hash when present) and returns its claims as JSON.
func verifyIDToken(ctx context.Context, provider *oidc.Provider, clientID string, tok *tokenResponse) (json.RawMessage, error) {
	if tok.IDToken == "" {
		return nil, errors.New("the token response holds no id_token (is the openid scope among --scope?)")
	}
	idToken, err := provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, tok.IDToken)
	if err != nil {
		return nil, fmt.Errorf("the ID token does not verify: %w", err)
	}
	if idToken.AccessTokenHash != "" {
		if err := idToken.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, fmt.Errorf("the ID token does not match the access token: %w", err)
		}
	}
	var claims json.RawMessage
	if err := idToken.Claims(&claims); err != nil {
		return nil, fmt.Errorf("reading the ID token's claims: %w", err)
	}
	return claims, nil
}

// sleepContext waits d, or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
