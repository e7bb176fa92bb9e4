package loadtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/qrid/qrid/provider/dpop"
)

// maxAnswer bounds what is read of an answer.
const maxAnswer = 1 << 20

// userAgent is sent with every request, so the server's logs tell bench traffic
// apart.
const userAgent = "qrid-bench"

// grantTypeDeviceCode is the grant type of RFC 8628 §3.4.
const grantTypeDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// wire sends every request of a run through one Transport, so connections are
// reused across workers.
type wire struct {
	http *http.Client
}

// newWire returns a wire that keeps up to idle connections open to the server.
func newWire(idle int) *wire { return newWireTo(idle, "") }

// newWireTo is newWire whose connections all go to addr (host:port), whatever
// the URL's host, when addr is set: another node of the deployment.
func newWireTo(idle int, addr string) *wire {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	dial := dialer.DialContext
	if addr != "" {
		dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		}
	}
	tr := &http.Transport{
		// The server is measured directly, never through a proxy.
		Proxy:               nil,
		DialContext:         dial,
		MaxIdleConns:        0, // no limit but the per-host one
		MaxIdleConnsPerHost: idle,
		MaxConnsPerHost:     0,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &wire{http: &http.Client{
		Transport: tr,
		// A long-poll is held up to LongPollWait seconds.
		Timeout: (LongPollWait + 35) * time.Second,
		// No endpoint qrid serves to these clients redirects; following one would
		// measure something else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// close closes the idle connections.
func (w *wire) close() { w.http.CloseIdleConnections() }

// send sends req and reads the answer's body into buf. An error means no answer.
func (w *wire) send(req *http.Request, buf *bytes.Buffer) (int, error) {
	req.Header.Set("User-Agent", userAgent)
	resp, err := w.http.Do(req)
	if err != nil {
		return 0, err
	}
	buf.Reset()
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// postForm posts an application/x-www-form-urlencoded form, with the Authorization
// header auth when it is not "".
func (w *wire) postForm(ctx context.Context, endpoint, auth, form string, buf *bytes.Buffer) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return w.send(req, buf)
}

// basicAuth is the Authorization header of client_secret_basic: both parts are
// form-encoded before Basic encoding (RFC 6749 §2.3.1).
func basicAuth(clientID, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(clientID)+":"+url.QueryEscape(secret)))
}

// relyingParty is the bench client as the PCs and relying parties use it.
type relyingParty struct {
	wire          *wire
	deviceAuthURL string
	tokenURL      string
	// clientAuth is the client's Authorization header.
	clientAuth string
	verifier   *oidc.IDTokenVerifier
}

// deviceAuthorization is the answer of the device authorization endpoint (RFC 8628
// §3.2) with qrid's match_code.
type deviceAuthorization struct {
	DeviceCode              string `json:"device_code"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	Interval                int    `json:"interval"`
	MatchCode               string `json:"match_code"`
}

// interval is the polling interval the server announced, at least a second.
func (d *deviceAuthorization) interval() time.Duration {
	return max(time.Duration(d.Interval)*time.Second, time.Second)
}

// tokenAnswer is a successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
}

// deviceAuth starts a QR session (RFC 8628 §3.1).
func (rp *relyingParty) deviceAuth(ctx context.Context, form string, buf *bytes.Buffer) (deviceAuthorization, *failure) {
	var da deviceAuthorization
	status, err := rp.wire.postForm(ctx, rp.deviceAuthURL, rp.clientAuth, form, buf)
	if err != nil {
		return da, transportFailure(err)
	}
	if status != http.StatusOK {
		return da, answerFailure(stepDeviceAuth, status, buf.Bytes())
	}
	if err := json.Unmarshal(buf.Bytes(), &da); err != nil || da.DeviceCode == "" || da.VerificationURIComplete == "" {
		return da, stepFailure(stepDeviceAuth, "malformed", "the answer lacks device_code or verification_uri_complete")
	}
	return da, nil
}

// pollForm is the form of a device_code token request; wait > 0 asks for a
// long-poll.
func pollForm(deviceCode string, wait int) string {
	form := "grant_type=" + url.QueryEscape(grantTypeDeviceCode) + "&device_code=" + url.QueryEscape(deviceCode)
	if wait > 0 {
		form += "&wait=" + strconv.Itoa(wait)
	}
	return form
}

// waitForTokens long-polls the token endpoint until the session is approved, as a
// PC does: a poll answered with news (qr_status changed) or held to the end of its
// wait is followed at once.
func (rp *relyingParty) waitForTokens(ctx context.Context, da deviceAuthorization, buf *bytes.Buffer) (tokenAnswer, *failure) {
	form := pollForm(da.DeviceCode, LongPollWait)
	status := "pending"
	for {
		sent := time.Now()
		code, err := rp.wire.postForm(ctx, rp.tokenURL, rp.clientAuth, form, buf)
		if err != nil {
			return tokenAnswer{}, transportFailure(err)
		}
		if code == http.StatusOK {
			var tok tokenAnswer
			if err := json.Unmarshal(buf.Bytes(), &tok); err != nil || tok.AccessToken == "" {
				return tok, stepFailure(stepToken, "malformed", "the token answer lacks an access_token")
			}
			return tok, nil
		}
		var a oauthAnswer
		_ = json.Unmarshal(buf.Bytes(), &a)
		if code == http.StatusTooManyRequests || a.Code != "authorization_pending" {
			return tokenAnswer{}, answerFailure(stepToken, code, buf.Bytes())
		}
		news := a.QRStatus != "" && a.QRStatus != status
		status = a.QRStatus
		if !news && time.Since(sent) < (LongPollWait-1)*time.Second {
			// Answered at once without news: the server did not hold the poll (it
			// caps the polls an address may hold).
			f := stepFailure(stepToken, "not_held", "the server answered a long-poll at once")
			f.limited = true
			return tokenAnswer{}, f
		}
	}
}

// pollOnce polls without waiting; a pending session is a success.
func (rp *relyingParty) pollOnce(ctx context.Context, form string, buf *bytes.Buffer) *failure {
	code, err := rp.wire.postForm(ctx, rp.tokenURL, rp.clientAuth, form, buf)
	if err != nil {
		return transportFailure(err)
	}
	var a oauthAnswer
	if code == http.StatusBadRequest && json.Unmarshal(buf.Bytes(), &a) == nil && a.Code == "authorization_pending" {
		return nil
	}
	return answerFailure(stepPoll, code, buf.Bytes())
}

// clientCredentialsForm is the form of a client_credentials grant (RFC 6749 §4.4).
const clientCredentialsForm = "grant_type=client_credentials"

// token asks the token endpoint for tokens with form; s names the step.
func (rp *relyingParty) token(ctx context.Context, s step, form string, buf *bytes.Buffer) (tokenAnswer, *failure) {
	var tok tokenAnswer
	code, err := rp.wire.postForm(ctx, rp.tokenURL, rp.clientAuth, form, buf)
	if err != nil {
		return tok, transportFailure(err)
	}
	if code != http.StatusOK {
		return tok, answerFailure(s, code, buf.Bytes())
	}
	if err := json.Unmarshal(buf.Bytes(), &tok); err != nil || tok.AccessToken == "" {
		return tok, stepFailure(s, "malformed", "the token answer lacks an access_token")
	}
	return tok, nil
}

// refreshForm is the form of a refresh_token grant (RFC 6749 §6).
func refreshForm(refreshToken string) string {
	return "grant_type=refresh_token&refresh_token=" + url.QueryEscape(refreshToken)
}

// verify checks tok's ID token as a relying party must (OIDC Core §3.1.3.7:
// signature, issuer, audience, expiry; at_hash when present) and that it names
// subject, the account that confirmed.
func (rp *relyingParty) verify(ctx context.Context, tok tokenAnswer, subject string) *failure {
	if tok.IDToken == "" {
		return stepFailure(stepVerify, "no_id_token", "the token answer holds no id_token")
	}
	idToken, err := rp.verifier.Verify(ctx, tok.IDToken)
	if err != nil {
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return stepFailure(stepVerify, "expired", "%v", err)
		}
		return stepFailure(stepVerify, "invalid_id_token", "%v", err)
	}
	if idToken.AccessTokenHash != "" {
		if err := idToken.VerifyAccessToken(tok.AccessToken); err != nil {
			return stepFailure(stepVerify, "at_hash", "%v", err)
		}
	}
	if idToken.Subject != subject {
		return stepFailure(stepVerify, "wrong_subject", "the ID token is for %q, not the phone's account %q", idToken.Subject, subject)
	}
	return nil
}

// phone is a virtual phone: the mobile app signed in as one account.
type phone struct {
	wire                 *wire
	scanURL, confirmURL  string
	deviceID, accountID  string
	token, authorization string
	// key signs a DPoP proof for every call (RFC 9449); nil for a bearer token.
	key *ecdsa.PrivateKey
	buf bytes.Buffer
}

// scanAnswer is the part of the answer of POST /qr/scan the phone acts on.
type scanAnswer struct {
	ConfirmToken string   `json:"confirm_token"`
	MatchChoices []string `json:"match_choices"`
}

// post sends a JSON body to a mobile API endpoint as this phone.
func (p *phone) post(ctx context.Context, endpoint string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if p.key != nil {
		proof, err := dpop.NewProof(p.key, http.MethodPost, endpoint, p.token, time.Now())
		if err != nil {
			return 0, err
		}
		req.Header.Set(dpop.HeaderName, proof)
	}
	if p.authorization != "" {
		req.Header.Set("Authorization", p.authorization)
		req.Header.Set("X-Device-Id", p.deviceID)
	}
	return p.wire.send(req, &p.buf)
}

// scan sends the QR code's content, as the camera read it.
func (p *phone) scan(ctx context.Context, content string) (scanAnswer, *failure) {
	var ans scanAnswer
	body, err := json.Marshal(struct {
		QR string `json:"qr"`
	}{content})
	if err != nil {
		return ans, stepFailure(stepScan, "request", "%v", err)
	}
	code, err := p.post(ctx, p.scanURL, body)
	if err != nil {
		return ans, transportFailure(err)
	}
	if code != http.StatusOK {
		return ans, answerFailure(stepScan, code, p.buf.Bytes())
	}
	if err := json.Unmarshal(p.buf.Bytes(), &ans); err != nil || ans.ConfirmToken == "" {
		return ans, stepFailure(stepScan, "malformed", "the scan answer lacks a confirm_token")
	}
	return ans, nil
}

// confirm approves a scanned sign-in; match is the number picked, "" when the scan
// offered none.
func (p *phone) confirm(ctx context.Context, confirmToken, match string) *failure {
	body, err := json.Marshal(struct {
		ConfirmToken string `json:"confirm_token"`
		Approve      bool   `json:"approve"`
		Match        string `json:"match,omitempty"`
	}{confirmToken, true, match})
	if err != nil {
		return stepFailure(stepConfirm, "request", "%v", err)
	}
	code, err := p.post(ctx, p.confirmURL, body)
	if err != nil {
		return transportFailure(err)
	}
	if code != http.StatusOK {
		return answerFailure(stepConfirm, code, p.buf.Bytes())
	}
	var ans struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(p.buf.Bytes(), &ans); err != nil || ans.Status != "approved" {
		return stepFailure(stepConfirm, "not_approved", "the confirmation answered status %q", ans.Status)
	}
	return nil
}
