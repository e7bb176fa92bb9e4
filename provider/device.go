package provider

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/qrid/qrid/grants/qr"
	"github.com/qrid/qrid/provider/fositestore"
	"github.com/qrid/qrid/provider/ratelimit"
	"github.com/qrid/qrid/storage"
)

// deviceAuthorization serves POST /oauth2/device/auth (RFC 8628 §3.1–3.2): it
// authenticates the client as registered, creates a QR session and answers the RFC
// 8628 fields plus qr_image_uri and, when number matching is on, match_code.
func (p *Provider) deviceAuthorization(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "The body must be application/x-www-form-urlencoded.")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "The form body cannot be read or is too large.")
		return
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "The parameter "+strconv.Quote(k)+" was sent more than once.")
			return
		}
	}
	fc, err := p.deviceAuthClient(ctx, r)
	if err != nil {
		if p.refuseIfStoreUnreachable(w, "device authorization", err) {
			return
		}
		rfc := fosite.ErrorToRFC6749Error(err)
		p.logOAuthError("device authorization refused", err)
		if rfc.CodeField == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="qrid"`)
		}
		writeOAuthError(w, rfc.CodeField, rfc.ErrorField, rfc.GetDescription())
		return
	}
	client := fc.(*fositestore.Client)
	for _, lim := range []struct {
		l   *ratelimit.Limiter
		key string
	}{{p.deviceAuthPerIP, clientIP(r)}, {p.deviceAuthPerClient, client.ID}} {
		if ok, wait := lim.l.Take(lim.key, p.now()); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
			writeOAuthError(w, http.StatusTooManyRequests, "slow_down", "Too many sign-ins were started; wait a little and try again.")
			return
		}
	}
	if !slices.Contains(client.GrantTypes, qr.GrantTypeDeviceCode) {
		writeOAuthError(w, http.StatusBadRequest, "unauthorized_client", "The client is not allowed to use the device_code grant.")
		return
	}
	scopes := strings.Fields(r.PostForm.Get("scope"))
	if len(scopes) == 0 {
		scopes = []string{"openid"}
	}
	for _, s := range scopes {
		if !slices.Contains(client.Scopes, s) {
			writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "The client may not ask for the scope "+strconv.Quote(s)+".")
			return
		}
	}
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	a, err := p.qr.Authorize(ctx, qr.AuthorizeRequest{
		ClientID:           client.ID,
		Scopes:             scopes,
		Kind:               "device",
		Matching:           !client.FirstParty,
		RequesterIP:        clientIP(r),
		RequesterUserAgent: truncate(r.UserAgent(), 256),
	})
	if errors.Is(err, qr.ErrTooManyPending) {
		w.Header().Set("Retry-After", "5")
		writeOAuthError(w, http.StatusTooManyRequests, "slow_down", qr.ErrTooManyPending.Message)
		return
	}
	if errors.Is(err, storage.ErrNotFound) {
		// Deleted since this node's client cache read it (on another node).
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "Unknown client.")
		return
	}
	if err != nil {
		p.log.Error("device authorization", "err", err)
		writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "Try again in a moment.")
		return
	}
	body := map[string]any{
		"device_code":               a.DeviceCode,
		"user_code":                 a.UserCode,
		"verification_uri":          a.VerificationURI,
		"verification_uri_complete": a.VerificationURIComplete,
		"expires_in":                a.ExpiresIn,
		"interval":                  a.Interval,
		"qr_image_uri":              a.QRImageURI,
	}
	if a.MatchCode != "" {
		body["match_code"] = a.MatchCode
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, body)
}

// deviceAuthClient identifies the client of a device authorization request.
// Credentials, when sent, are checked as at the token endpoint. A confidential client
// may also identify itself by client_id alone, as RFC 8628 clients such as
// golang.org/x/oauth2 do: starting a QR session releases nothing, and its tokens are
// only delivered to the authenticated client at the token endpoint.
func (p *Provider) deviceAuthClient(ctx context.Context, r *http.Request) (fosite.Client, error) {
	if r.Header.Get("Authorization") != "" || r.PostForm.Has("client_secret") || r.PostForm.Has("client_assertion") {
		return p.oauth2.(*fosite.Fosite).AuthenticateClient(ctx, r, r.PostForm)
	}
	id := r.PostForm.Get("client_id")
	if id == "" {
		return nil, fosite.ErrInvalidClient.WithHint("The client_id parameter is missing.")
	}
	c, err := p.clients.Get(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fosite.ErrInvalidClient.WithHint("Unknown client.")
	}
	if err != nil {
		return nil, fosite.ErrServerError.WithWrap(err)
	}
	return &fositestore.Client{Client: c}, nil
}

// qrIDSession fills the fosite session of an approved QR session: the scanning
// account is the subject, the approval is the authentication (auth_time, amr "qr"),
// and the scanning device is named in qrid_device.
func (p *Provider) qrIDSession(ctx context.Context, s storage.QRSession, into *openid.DefaultSession) error {
	user, err := p.store.GetUser(ctx, s.AccountID)
	if err != nil {
		return err
	}
	into.Subject = user.ID
	into.Username = user.Username
	c := into.Claims
	c.Subject = user.ID
	c.AuthTime = s.DecidedAt.UTC().Truncate(time.Second)
	c.RequestedAt = s.CreatedAt.UTC().Truncate(time.Second)
	c.AuthenticationMethodsReferences = []string{"qr"}
	c.Add("qrid_device", s.DeviceID)
	for k, v := range userClaims(user, s.Scopes) {
		c.Add(k, v)
	}
	return nil
}

// clientIP is the address the request came from. Proxy headers are not trusted.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
