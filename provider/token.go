package provider

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/ory/fosite"

	"github.com/qrid/qrid/grants/qr"
)

// token serves POST /oauth2/token (RFC 6749 §3.2): authorization_code (with PKCE),
// refresh_token (rotating) and client_credentials.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := checkTokenForm(r); err != nil {
		p.oauth2.WriteAccessError(ctx, w, nil, err)
		return
	}
	if r.PostForm.Get("wait") != "" && r.PostForm.Get("wait") != "0" {
		// A long-poll holds a slot of its address; past the cap it answers at once.
		ip := clientIP(r)
		if p.heldPerIP.Acquire(ip) {
			defer p.heldPerIP.Release(ip)
		} else {
			r.PostForm.Set("wait", "0")
			r.Form.Set("wait", "0")
		}
	}
	session := newSession()
	// A long-poll is held here, once fosite has returned, rather than deep inside
	// it: the goroutine's stack can shrink while it waits, and fosite's request is
	// garbage by then. The request is then parsed again and answered at once.
	ar, err := p.oauth2.NewAccessRequest(qr.DeferWait(ctx), r, session)
	var waiting *qr.Waiting
	if errors.As(err, &waiting) {
		if p.qr.Wait(ctx, waiting) != nil {
			return // the client went away during the long-poll
		}
		session = newSession()
		ar, err = p.oauth2.NewAccessRequest(qr.Resume(ctx), r, session)
	}
	if err != nil {
		var poll *qr.PollError
		if errors.As(err, &poll) {
			writePollError(w, poll)
			return
		}
		if ctx.Err() != nil {
			return // the client went away during a long-poll
		}
		if p.refuseIfStoreUnreachable(w, "token request", err) {
			return
		}
		p.logOAuthError("token request refused", err)
		p.oauth2.WriteAccessError(ctx, w, ar, err)
		return
	}
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		// A client acting for itself: it is the subject, and it gets the scopes it
		// asked for that mean something without a person (never openid or
		// offline_access; fosite has already checked the client may ask for them).
		session.Subject = ar.GetClient().GetID()
		for _, s := range ar.GetRequestedScopes() {
			if s != "openid" && s != "offline_access" {
				ar.GrantScope(s)
			}
		}
	}
	resp, err := p.oauth2.NewAccessResponse(ctx, ar)
	if err != nil {
		if p.refuseIfStoreUnreachable(w, "token response", err) {
			return
		}
		p.logOAuthError("token response failed", err)
		p.oauth2.WriteAccessError(ctx, w, ar, err)
		return
	}
	p.oauth2.WriteAccessResponse(ctx, w, ar, resp)
}

// writePollError writes a device_code poll answer: RFC 6749 §5.2 JSON plus qrid's
// qr_status extension (and interval on slow_down).
func writePollError(w http.ResponseWriter, e *qr.PollError) {
	body := map[string]any{"error": e.RFC.ErrorField, "error_description": e.RFC.GetDescription()}
	if e.QRStatus != "" {
		body["qr_status"] = e.QRStatus
	}
	if e.Interval > 0 {
		body["interval"] = e.Interval
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, e.RFC.CodeField, body)
}

// grantTypes are the grant types the token endpoint serves.
var grantTypes = []string{"authorization_code", "refresh_token", "client_credentials", qr.GrantTypeDeviceCode}

// checkTokenForm refuses what fosite would not name precisely: a body that is not a
// form, a repeated parameter (RFC 6749 §3.2: "MUST NOT be included more than once")
// and a grant type qrid does not serve (§5.2 unsupported_grant_type).
func checkTokenForm(r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return fosite.ErrInvalidRequest.WithHint("The body must be application/x-www-form-urlencoded.")
	}
	if err := r.ParseForm(); err != nil {
		return fosite.ErrInvalidRequest.WithHint("The form body cannot be read or is too large.")
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return fosite.ErrInvalidRequest.WithHintf("The parameter %q was sent more than once.", k)
		}
	}
	gt := r.PostForm.Get("grant_type")
	if gt == "" {
		return fosite.ErrInvalidRequest.WithHint("The grant_type parameter is missing.")
	}
	if !slices.Contains(grantTypes, gt) {
		return fosite.ErrUnsupportedGrantType.WithHintf("The grant type %q is not supported.", gt)
	}
	return nil
}

// introspect serves POST /oauth2/introspect (RFC 7662). Only an authenticated
// confidential client may introspect (§2.1); a bearer token is not accepted as
// authorisation, so a token holder cannot probe other tokens.
func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Authorization")), "bearer ") {
		w.Header().Set("WWW-Authenticate", `Basic realm="qrid"`)
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "Introspection requires client authentication.")
		return
	}
	ir, err := p.oauth2.NewIntrospectionRequest(ctx, r, newSession())
	if err != nil {
		if p.refuseIfStoreUnreachable(w, "introspection", err) {
			return
		}
		p.logOAuthError("introspection refused", err)
		p.oauth2.WriteIntrospectionError(ctx, w, err)
		return
	}
	p.oauth2.WriteIntrospectionResponse(ctx, w, ir)
}

// revoke serves POST /oauth2/revoke (RFC 7009).
func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	err := p.oauth2.NewRevocationRequest(ctx, r)
	if err != nil {
		if p.refuseIfStoreUnreachable(w, "revocation", err) {
			return
		}
		p.logOAuthError("revocation refused", err)
	}
	p.oauth2.WriteRevocationResponse(ctx, w, err)
}

func (p *Provider) logOAuthError(msg string, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	level := p.log.Info
	if rfc.CodeField >= 500 {
		level = p.log.Error
	}
	level(msg, "error", rfc.ErrorField, "hint", rfc.HintField, "debug", rfc.DebugField, "cause", rfc.Cause())
}
