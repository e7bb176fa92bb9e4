package provider

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/qrid/qrid/provider/audit"
	"github.com/qrid/qrid/provider/fositestore"
	"github.com/qrid/qrid/provider/i18n"
	"github.com/qrid/qrid/provider/password"
	"github.com/qrid/qrid/storage"
)

// dummyPasswordHash is verified against when the username is unknown, so a wrong
// username costs the same time as a wrong password.
var dummyPasswordHash, _ = password.Hash("qrid timing equaliser")

// authorize serves GET /oauth2/auth (RFC 6749 §4.1.1, OIDC Core §3.1.2).
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	ar, err := p.oauth2.NewAuthorizeRequest(r.Context(), r)
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	p.continueAuthorize(w, r, ar, r.URL.RawQuery, p.now().UTC().Truncate(time.Second), false)
}

// reparseAuthorize parses the authorization request carried by a login or consent
// form again, exactly as fosite parsed it the first time.
func (p *Provider) reparseAuthorize(r *http.Request, query string) (fosite.AuthorizeRequester, error) {
	get := r.Clone(r.Context())
	get.Method = http.MethodGet
	get.URL = &url.URL{Path: "/oauth2/auth", RawQuery: query}
	get.Body = http.NoBody
	get.ContentLength = 0
	get.Form, get.PostForm = nil, nil
	get.Header = r.Header.Clone()
	get.Header.Del("Content-Type")
	return p.oauth2.NewAuthorizeRequest(r.Context(), get)
}

// continueAuthorize decides what the request still needs (sign-in, consent) and
// either shows that page or issues the code. consented is true when the person has
// just approved this very request on the consent page.
func (p *Provider) continueAuthorize(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, query string, requestedAt time.Time, consented bool) {
	ctx := r.Context()
	form := ar.GetRequestForm()
	prompts := strings.Fields(form.Get("prompt"))
	if slices.Contains(prompts, "none") && len(prompts) > 1 {
		p.authorizeError(w, r, ar, fosite.ErrInvalidRequest.WithHint("prompt=none cannot be combined with other values."))
		return
	}
	for _, v := range prompts {
		if v != "none" && v != "login" && v != "consent" {
			p.authorizeError(w, r, ar, fosite.ErrInvalidRequest.WithHintf("Unsupported prompt value %q.", v))
			return
		}
	}
	if err := checkPKCE(ar); err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	if !ar.GetRequestedScopes().Has("openid") {
		p.authorizeError(w, r, ar, fosite.ErrInvalidScope.WithHint("qrid is an OpenID Connect provider: the openid scope is required."))
		return
	}
	sess, err := p.browserSession(r)
	if err != nil {
		p.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err))
		return
	}

	needLogin := sess == nil
	if sess != nil && slices.Contains(prompts, "login") && sess.AuthTime.Before(requestedAt) {
		needLogin = true
	}
	if v := form.Get("max_age"); v != "" {
		maxAge, err := strconv.ParseInt(v, 10, 64)
		if err != nil || maxAge < 0 {
			p.authorizeError(w, r, ar, fosite.ErrInvalidRequest.WithHint("max_age must be a non-negative integer."))
			return
		}
		// Measured from the request's time, so a sign-in made for this very request
		// always satisfies it (OIDC Core §3.1.2.1).
		if sess != nil && sess.AuthTime.Add(time.Duration(maxAge)*time.Second).Before(requestedAt) {
			needLogin = true
		}
	}
	if hint := form.Get("id_token_hint"); hint != "" {
		sub, _, err := p.idTokenHint(ctx, hint)
		if err != nil {
			p.authorizeError(w, r, ar, fosite.ErrInvalidRequest.WithHint("The id_token_hint is not an ID token issued by this provider."))
			return
		}
		if sess != nil && sess.Subject != sub {
			needLogin = true
		}
	}

	var user storage.User
	if !needLogin {
		user, err = p.store.GetUser(ctx, sess.Subject)
		if errors.Is(err, storage.ErrNotFound) {
			needLogin = true // the account was deleted
		} else if err != nil {
			p.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err))
			return
		}
	}
	if needLogin {
		if slices.Contains(prompts, "none") {
			p.authorizeError(w, r, ar, fosite.ErrLoginRequired.WithHint("The person is not signed in."))
			return
		}
		p.renderLogin(w, r, ar, p.sealAuthz(query, requestedAt), "", "", http.StatusOK)
		return
	}

	client := ar.GetClient().(*fositestore.Client)
	requested := []string(ar.GetRequestedScopes())
	if !consented && !client.FirstParty {
		remembered := p.consentCovers(ctx, user.ID, client.ID, requested)
		if !remembered || slices.Contains(prompts, "consent") {
			if slices.Contains(prompts, "none") {
				p.authorizeError(w, r, ar, fosite.ErrConsentRequired.WithHint("The person has not allowed this application yet."))
				return
			}
			p.renderConsent(w, r, ar, client, user, p.sealAuthz(query, requestedAt))
			return
		}
	}

	for _, s := range requested {
		ar.GrantScope(s)
	}
	resp, err := p.oauth2.NewAuthorizeResponse(ctx, ar, p.idSession(user, sess, requestedAt, ar.GetGrantedScopes()))
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	p.oauth2.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// checkPKCE refuses, before anyone is asked to sign in, what fosite's PKCE handler
// would refuse only when issuing the code: a public client without a code_challenge
// and any method but S256 (RFC 7636 §4.2; plain is never accepted).
func checkPKCE(ar fosite.AuthorizeRequester) error {
	form := ar.GetRequestForm()
	challenge, method := form.Get("code_challenge"), form.Get("code_challenge_method")
	if challenge == "" {
		if method != "" {
			return fosite.ErrInvalidRequest.WithHint("code_challenge_method was sent without code_challenge.")
		}
		if ar.GetClient().IsPublic() {
			return fosite.ErrInvalidRequest.WithHint("Public clients must use PKCE with code_challenge_method S256.")
		}
		return nil
	}
	if method != "S256" {
		return fosite.ErrInvalidRequest.WithHint("code_challenge_method must be S256.")
	}
	return nil
}

// idSession builds the fosite session whose claims become the ID token.
func (p *Provider) idSession(user storage.User, sess *storage.BrowserSession, requestedAt time.Time, granted fosite.Arguments) *openid.DefaultSession {
	s := newSession()
	s.Subject = user.ID
	s.Username = user.Username
	c := s.Claims
	c.Subject = user.ID
	c.AuthTime = sess.AuthTime.UTC().Truncate(time.Second)
	c.RequestedAt = requestedAt
	c.AuthenticationMethodsReferences = sess.AMR
	c.Add("sid", p.sid(sess))
	for k, v := range userClaims(user, granted) {
		c.Add(k, v)
	}
	return s
}

// userClaims returns the claims the granted scopes release (OIDC Core §5.4).
func userClaims(user storage.User, granted fosite.Arguments) map[string]any {
	out := map[string]any{}
	if granted.Has("profile") {
		out["preferred_username"] = user.Username
		if user.Name != "" {
			out["name"] = user.Name
		}
	}
	if granted.Has("email") && user.Email != "" {
		out["email"] = user.Email
		out["email_verified"] = false
	}
	return out
}

// consentCovers reports whether the person already allowed client every scope asked.
func (p *Provider) consentCovers(ctx context.Context, subject, clientID string, scopes []string) bool {
	c, err := p.store.GetConsent(ctx, subject, clientID)
	if err != nil {
		return false
	}
	for _, s := range scopes {
		if !slices.Contains(c.Scopes, s) {
			return false
		}
	}
	return true
}

// idTokenHint verifies an ID token qrid issued (expired ones are accepted, as OIDC
// Core §3.1.2.1 and RP-Initiated Logout allow) and returns its subject and audience.
func (p *Provider) idTokenHint(ctx context.Context, hint string) (string, []string, error) {
	t, err := (&keySigner{keys: p.keys}).Decode(ctx, hint)
	var ve *jwt.ValidationError
	if err != nil && !(errors.As(err, &ve) && ve.Errors == jwt.ValidationErrorExpired) {
		return "", nil, err
	}
	if t == nil {
		return "", nil, errors.New("undecodable id_token_hint")
	}
	if iss, _ := t.Claims["iss"].(string); iss != p.cfg.Issuer {
		return "", nil, errors.New("id_token_hint from another issuer")
	}
	sub, _ := t.Claims["sub"].(string)
	if sub == "" {
		return "", nil, errors.New("id_token_hint without subject")
	}
	var aud []string
	switch v := t.Claims["aud"].(type) {
	case string:
		aud = []string{v}
	case []interface{}:
		for _, a := range v {
			if s, ok := a.(string); ok {
				aud = append(aud, s)
			}
		}
	}
	return sub, aud, nil
}

// errWrongPassword is the one answer to a wrong password and an unknown username.
var errWrongPassword = errors.New("wrong username or password")

// verifyPassword checks a password sign-in. An unknown username costs the same
// argon2id verification as a known one (against a dummy hash) and gets the same
// errWrongPassword; known tells the two apart for the logs. Any other error is the
// store's.
func (p *Provider) verifyPassword(ctx context.Context, username, pass string) (user storage.User, known bool, err error) {
	user, err = p.store.GetUserByUsername(ctx, strings.ToLower(strings.TrimSpace(username)))
	known = err == nil
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return user, false, err
	}
	hash := user.PasswordHash
	if !known {
		hash = dummyPasswordHash
	}
	if verr := password.Verify(hash, pass); verr != nil || !known {
		return user, known, errWrongPassword
	}
	return user, true, nil
}

// rememberConsent adds scopes to what subject has allowed clientID.
func (p *Provider) rememberConsent(ctx context.Context, subject, clientID string, scopes []string) error {
	all := slices.Clone(scopes)
	if old, err := p.store.GetConsent(ctx, subject, clientID); err == nil {
		for _, s := range old.Scopes {
			if !slices.Contains(all, s) {
				all = append(all, s)
			}
		}
	}
	slices.Sort(all)
	return p.store.SaveConsent(ctx, storage.Consent{Subject: subject, ClientID: clientID, Scopes: all, GrantedAt: p.now().UTC()})
}

// login serves POST /login: the password form of the login page.
func (p *Provider) login(w http.ResponseWriter, r *http.Request) {
	ar, query, requestedAt, ok := p.readAuthzForm(w, r)
	if !ok {
		return
	}
	username := strings.ToLower(strings.TrimSpace(r.PostForm.Get("username")))
	pass := r.PostForm.Get("password")
	if username == "" || pass == "" {
		p.renderLogin(w, r, ar, r.PostForm.Get("authz"), username, i18n.LoginMissingCredentials, http.StatusBadRequest)
		return
	}
	user, known, err := p.verifyPassword(r.Context(), username, pass)
	if err != nil && !errors.Is(err, errWrongPassword) {
		p.renderError(w, r, http.StatusServiceUnavailable, i18n.ErrorSignInUnavailable, i18n.MessageTryAgain, "")
		return
	}
	if err != nil {
		p.log.Info("password sign-in refused", "username_known", known)
		p.recordAudit(r, storage.AuditEvent{Type: audit.LoginPasswordFailed, AccountID: user.ID,
			ClientID: ar.GetClient().GetID(), Detail: passwordFailure(known) + " page=login"})
		p.renderLogin(w, r, ar, r.PostForm.Get("authz"), username, i18n.LoginWrongPassword, http.StatusUnauthorized)
		return
	}
	if _, err := p.startBrowserSession(w, r, user.ID, []string{"pwd"}); err != nil {
		p.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err))
		return
	}
	p.recordAudit(r, storage.AuditEvent{Type: audit.LoginPasswordOK, AccountID: user.ID,
		ClientID: ar.GetClient().GetID(), Detail: "page=login"})
	// The new session cookie is not in r yet: add it so continueAuthorize sees it.
	p.refreshSessionCookie(w, r)
	p.continueAuthorize(w, r, ar, query, requestedAt, false)
}

// refreshSessionCookie copies the session cookie just set on w into r.
func (p *Provider) refreshSessionCookie(w http.ResponseWriter, r *http.Request) {
	name := p.cookieName("qrid_session")
	for _, c := range (&http.Response{Header: w.Header()}).Cookies() {
		if c.Name == name {
			cookies := r.Cookies()
			r.Header.Del("Cookie")
			for _, old := range cookies {
				if old.Name != name {
					r.AddCookie(old)
				}
			}
			r.AddCookie(&http.Cookie{Name: name, Value: c.Value})
		}
	}
}

// consent serves POST /consent: the person allows or denies the application.
func (p *Provider) consent(w http.ResponseWriter, r *http.Request) {
	ar, query, requestedAt, ok := p.readAuthzForm(w, r)
	if !ok {
		return
	}
	sess, err := p.browserSession(r)
	if err != nil {
		p.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err))
		return
	}
	if sess == nil {
		p.renderLogin(w, r, ar, r.PostForm.Get("authz"), "", i18n.LoginSessionEnded, http.StatusUnauthorized)
		return
	}
	switch r.PostForm.Get("decision") {
	case "allow":
	case "deny":
		p.authorizeError(w, r, ar, fosite.ErrAccessDenied.WithHint("The person denied the request."))
		return
	default:
		p.renderError(w, r, http.StatusBadRequest, i18n.ErrorInvalidRequest, i18n.MessageConsentUnanswered, "invalid_request")
		return
	}
	if err := p.rememberConsent(r.Context(), sess.Subject, ar.GetClient().GetID(), ar.GetRequestedScopes()); err != nil {
		p.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err))
		return
	}
	p.continueAuthorize(w, r, ar, query, requestedAt, true)
}

// readAuthzForm parses a login or consent form: body limits, CSRF, the sealed
// request. It writes the error page itself and returns ok=false on failure.
func (p *Provider) readAuthzForm(w http.ResponseWriter, r *http.Request) (fosite.AuthorizeRequester, string, time.Time, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		p.renderError(w, r, http.StatusUnsupportedMediaType, i18n.ErrorInvalidRequest, i18n.MessageFormContentType, "invalid_request")
		return nil, "", time.Time{}, false
	}
	if err := r.ParseForm(); err != nil {
		p.renderError(w, r, http.StatusBadRequest, i18n.ErrorInvalidRequest, i18n.MessageFormUnreadable, "invalid_request")
		return nil, "", time.Time{}, false
	}
	for _, k := range []string{"csrf", "authz", "username", "password", "decision"} {
		if len(r.PostForm[k]) > 1 {
			p.renderError(w, r, http.StatusBadRequest, i18n.ErrorInvalidRequest, i18n.MessageFieldTwice, "invalid_request")
			return nil, "", time.Time{}, false
		}
	}
	if !p.checkCSRF(r) {
		p.renderError(w, r, http.StatusForbidden, i18n.ErrorRequestRefused, i18n.MessageForeignFormApp, "invalid_request")
		return nil, "", time.Time{}, false
	}
	query, requestedAt, err := p.openAuthz(r.PostForm.Get("authz"))
	if err != nil {
		p.renderError(w, r, http.StatusBadRequest, i18n.ErrorInvalidRequest, i18n.MessageAuthzExpired, "invalid_request")
		return nil, "", time.Time{}, false
	}
	ar, err := p.reparseAuthorize(r, query)
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return nil, "", time.Time{}, false
	}
	return ar, query, requestedAt, true
}

// authorizeError answers a failed authorization request: back to the client with
// error and state when the redirect URI is trusted (RFC 6749 §4.1.2.1), otherwise an
// error page — never a redirect to an unverified URI.
func (p *Provider) authorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	if p.refuseIfStoreUnreachable(w, "authorization", err) {
		return
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.CodeField >= 500 {
		p.log.Error("authorization failed", "err", err, "debug", rfc.DebugField)
	}
	if ar != nil && ar.IsRedirectURIValid() {
		p.oauth2.WriteAuthorizeError(r.Context(), w, ar, err)
		return
	}
	msg := rfc.ErrorField
	if rfc.HintField != "" {
		msg = rfc.HintField
	} else if rfc.DescriptionField != "" {
		msg = rfc.DescriptionField
	}
	status := http.StatusBadRequest
	if rfc.CodeField >= 500 {
		status = rfc.CodeField
	}
	p.renderError(w, r, status, i18n.ErrorAuthorizeIncomplete, i18n.MessageAuthorizeDetail, rfc.ErrorField, msg)
}
