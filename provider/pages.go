package provider

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"

	"github.com/ory/fosite"

	"github.com/qrid/qrid/grants/qr"
	"github.com/qrid/qrid/provider/fositestore"
	"github.com/qrid/qrid/provider/i18n"
	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/templates"
)

// scopeDescriptions are the catalog keys of the plain words that say what each scope
// lets an application do.
var scopeDescriptions = map[string]string{
	"openid":         i18n.ScopeOpenID,
	"profile":        i18n.ScopeProfile,
	"email":          i18n.ScopeEmail,
	"offline_access": i18n.ScopeOfflineAccess,
}

// qrErrorKeys are the catalog keys of the outcomes of QR session operations, by
// qr.Error code.
var qrErrorKeys = map[string]string{
	"not_found":       i18n.QRNotFound,
	"expired":         i18n.QRExpired,
	"already_scanned": i18n.QRAlreadyScanned,
	"already_used":    i18n.QRAlreadyUsed,
	"wrong_match":     i18n.QRWrongMatch,
	"forbidden":       i18n.QRForbidden,
	"invalid_token":   i18n.QRInvalidToken,
	"invalid_request": i18n.QRInvalidRequest,
	"rate_limited":    i18n.QRRateLimited,
}

// qrErrorKey is the catalog key of the message a page shows for e.
func qrErrorKey(e *qr.Error) string {
	if k, ok := qrErrorKeys[e.Code]; ok {
		return k
	}
	return i18n.QRFailed
}

// clientView is what pages show of a client.
type clientView struct {
	Name    string
	LogoURI string
}

func viewOf(c fosite.Client) *clientView {
	if fc, ok := c.(*fositestore.Client); ok {
		return &clientView{Name: fc.Name, LogoURI: fc.LogoURI}
	}
	return nil
}

// render executes a page, in the language r's Accept-Language asks for, into a buffer
// first, so a template failure becomes a clean 500 instead of half a page. Pages
// carry codes, tokens or CSRF values: never cached.
func (p *Provider) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	lang := i18n.FromRequest(r)
	var buf bytes.Buffer
	if err := p.pages[templates.Name(lang, page)].ExecuteTemplate(&buf, "layout", data); err != nil {
		p.log.Error("render page", "page", page, "lang", lang.String(), "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	i18n.SetHeaders(w.Header(), lang)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderLogin shows the login page: a fresh QR to scan with the app and the
// password form as the fallback. A password error opens the password form. message
// is a catalog key (i18n.Login…), as are the messages of the login page below.
func (p *Provider) renderLogin(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, authz, username, message string, status int) {
	p.renderLoginPage(w, r, ar, authz, username, message, "", status)
}

// renderLoginMessage shows the login page with a message about the QR sign-in.
func (p *Provider) renderLoginMessage(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, authz, message string, status int) {
	p.renderLoginPage(w, r, ar, authz, "", "", message, status)
}

func (p *Provider) renderLoginPage(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, authz, username, passwordError, qrMessage string, status int) {
	csrf := p.csrfToken(w, r)
	view, err := p.newWebQR(w, r, ar)
	if err != nil {
		if !errors.Is(err, errWebQRLimited) && !errors.Is(err, qr.ErrTooManyPending) {
			p.log.Error("login page QR", "err", err)
		}
		view = nil
		if qrMessage == "" {
			qrMessage = i18n.LoginQRUnavailable
		}
	}
	p.render(w, r, status, "login.html", map[string]any{
		"Client":       viewOf(ar.GetClient()),
		"CSRF":         csrf,
		"Authz":        authz,
		"Username":     username,
		"Error":        passwordError,
		"PasswordOpen": passwordError != "" || view == nil,
		"QR":           view,
		"QRMessage":    qrMessage,
	})
}

// renderConsent shows the consent page. Scopes qrid knows are described in the
// page's language; any other scope is shown by its name.
func (p *Provider) renderConsent(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, client *fositestore.Client, user storage.User, authz string) {
	lang := i18n.FromRequest(r)
	var scopes []string
	for _, s := range ar.GetRequestedScopes() {
		if d, ok := scopeDescriptions[s]; ok {
			scopes = append(scopes, i18n.T(lang, d))
		} else {
			scopes = append(scopes, s)
		}
	}
	host := ""
	if u, err := url.Parse(client.ClientURI); err == nil {
		host = u.Host
	}
	p.render(w, r, http.StatusOK, "consent.html", map[string]any{
		"Client":     viewOf(client),
		"ClientHost": host,
		"Scopes":     scopes,
		"Username":   user.Username,
		"CSRF":       p.csrfToken(w, r),
		"Authz":      authz,
	})
}

// renderError shows the error page. title and message are catalog keys (i18n.Error…
// and i18n.Message…), message formatted with args; code is the OAuth or qrid error
// code, shown as it is.
func (p *Provider) renderError(w http.ResponseWriter, r *http.Request, status int, title, message, code string, args ...any) {
	if status < 400 {
		status = http.StatusBadRequest
	}
	lang := i18n.FromRequest(r)
	p.render(w, r, status, "error.html", map[string]any{
		"Title": i18n.T(lang, title), "Message": i18n.T(lang, message, args...), "Code": code,
	})
}
