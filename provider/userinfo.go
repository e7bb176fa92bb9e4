package provider

import (
	"errors"
	"net/http"

	"github.com/ory/fosite"

	"github.com/qrid/qrid/storage"
)

// userinfo serves GET and POST /userinfo (OIDC Core §5.3) for a bearer access token
// (RFC 6750 §2.1 header, or §2.2 form body on POST).
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	token := fosite.AccessTokenFromRequest(r)
	if token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="qrid"`)
		writeOAuthError(w, http.StatusUnauthorized, "invalid_request", "An access token is required.")
		return
	}
	use, ar, err := p.oauth2.IntrospectToken(ctx, token, fosite.AccessToken, newSession())
	// fosite treats the token use as a hint and would accept a refresh token here.
	if err != nil || use != fosite.AccessToken {
		w.Header().Set("WWW-Authenticate", `Bearer realm="qrid", error="invalid_token"`)
		writeOAuthError(w, http.StatusUnauthorized, "invalid_token", "The access token is invalid, expired or revoked.")
		return
	}
	if !ar.GetGrantedScopes().Has("openid") {
		w.Header().Set("WWW-Authenticate", `Bearer realm="qrid", error="insufficient_scope", scope="openid"`)
		writeOAuthError(w, http.StatusForbidden, "insufficient_scope", "The access token was not granted the openid scope.")
		return
	}
	user, err := p.store.GetUser(ctx, ar.GetSession().GetSubject())
	if errors.Is(err, storage.ErrNotFound) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="qrid", error="invalid_token"`)
		writeOAuthError(w, http.StatusUnauthorized, "invalid_token", "The account of this token no longer exists.")
		return
	}
	if err != nil {
		p.log.Error("userinfo", "err", err)
		writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "Try again in a moment.")
		return
	}
	claims := userClaims(user, ar.GetGrantedScopes())
	claims["sub"] = user.ID
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, claims)
}
