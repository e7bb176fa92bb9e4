package provider

import (
	"net/http"
	"strings"

	"github.com/ory/fosite"
)

// token serves POST /oauth2/token (RFC 6749 §3.2): authorization_code (with PKCE),
// refresh_token (rotating) and client_credentials.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	session := newSession()
	ar, err := p.oauth2.NewAccessRequest(ctx, r, session)
	if err != nil {
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
		p.logOAuthError("token response failed", err)
		p.oauth2.WriteAccessError(ctx, w, ar, err)
		return
	}
	p.oauth2.WriteAccessResponse(ctx, w, ar, resp)
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
