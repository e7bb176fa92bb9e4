package provider

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/qrid/qrid/provider/i18n"
	"github.com/qrid/qrid/storage"
)

// logout serves the end_session_endpoint (OpenID Connect RP-Initiated Logout 1.0).
//
// With a valid id_token_hint for the signed-in person the browser is signed out at
// once (the hint proves the request comes from an application that signed this person
// in); without one, GET shows a confirmation form (so a third-party page cannot sign
// people out by embedding a link) and POST, CSRF-checked, signs out. The browser is
// sent to post_logout_redirect_uri only when it is registered for the client named by
// client_id or by the hint's audience.
func (p *Provider) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var params url.Values
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			p.renderError(w, r, http.StatusBadRequest, i18n.ErrorInvalidRequest, i18n.MessageSignOutUnreadable, "invalid_request")
			return
		}
		params = r.PostForm
	} else {
		params = r.URL.Query()
	}
	for k, v := range params {
		if len(v) > 1 {
			p.renderError(w, r, http.StatusBadRequest, i18n.ErrorInvalidRequest, i18n.MessageParamTwice, "invalid_request", k)
			return
		}
	}
	clientID := params.Get("client_id")
	hintSub := ""
	if hint := params.Get("id_token_hint"); hint != "" {
		sub, aud, err := p.idTokenHint(ctx, hint)
		if err != nil {
			p.renderError(w, r, http.StatusBadRequest, i18n.ErrorInvalidSignOut, i18n.MessageBadIDTokenHint, "invalid_request")
			return
		}
		if clientID != "" && !slices.Contains(aud, clientID) {
			p.renderError(w, r, http.StatusBadRequest, i18n.ErrorInvalidSignOut, i18n.MessageClientIDMismatch, "invalid_request")
			return
		}
		if clientID == "" && len(aud) == 1 {
			clientID = aud[0]
		}
		hintSub = sub
	}
	redirect := params.Get("post_logout_redirect_uri")
	if redirect != "" {
		if !p.postLogoutRedirectAllowed(ctx, clientID, redirect) {
			p.renderError(w, r, http.StatusBadRequest, i18n.ErrorInvalidSignOut, i18n.MessageBadPostLogoutURI, "invalid_request")
			return
		}
	}
	sess, err := p.browserSession(r)
	if err != nil {
		p.renderError(w, r, http.StatusServiceUnavailable, i18n.ErrorSignOutUnavailable, i18n.MessageTryAgain, "")
		return
	}

	confirmed := false
	switch {
	case sess == nil:
		confirmed = true // nothing to sign out of
	case hintSub != "" && hintSub == sess.Subject:
		confirmed = true
	case r.Method == http.MethodPost:
		if !p.checkCSRF(r) {
			p.renderError(w, r, http.StatusForbidden, i18n.ErrorRequestRefused, i18n.MessageForeignForm, "invalid_request")
			return
		}
		confirmed = true
	}
	if !confirmed {
		username := ""
		if u, err := p.store.GetUser(ctx, sess.Subject); err == nil {
			username = u.Username
		}
		p.render(w, r, http.StatusOK, "logout.html", map[string]any{
			"CSRF": p.csrfToken(w, r), "ClientID": clientID, "PostLogoutRedirectURI": redirect,
			"State": params.Get("state"), "Username": username,
		})
		return
	}
	if err := p.endBrowserSession(w, r); err != nil {
		p.renderError(w, r, http.StatusServiceUnavailable, i18n.ErrorSignOutUnavailable, i18n.MessageTryAgain, "")
		return
	}
	if redirect == "" {
		p.render(w, r, http.StatusOK, "logout.html", map[string]any{"Done": true})
		return
	}
	u, _ := url.Parse(redirect)
	if state := params.Get("state"); state != "" {
		q := u.Query()
		q.Set("state", state)
		u.RawQuery = q.Encode()
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// postLogoutRedirectAllowed reports whether uri is registered, exactly, for clientID.
func (p *Provider) postLogoutRedirectAllowed(ctx context.Context, clientID, uri string) bool {
	if clientID == "" || strings.ContainsAny(uri, "#") {
		return false
	}
	c, err := p.clients.Get(ctx, clientID)
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			p.log.Error("logout client lookup", "err", err)
		}
		return false
	}
	return slices.Contains(c.PostLogoutRedirectURIs, uri)
}
