package provider

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"

	"github.com/ory/fosite"

	"github.com/qrid/qrid/grants/qr"
	"github.com/qrid/qrid/provider/fositestore"
	"github.com/qrid/qrid/storage"
)

// scopeDescriptions say in plain words what each scope lets an application do.
var scopeDescriptions = map[string]string{
	"openid":         "Know who you are (your qrid account ID)",
	"profile":        "See your name and username",
	"email":          "See your email address",
	"offline_access": "Stay signed in while you are away",
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

// render executes a page into a buffer first, so a template failure becomes a clean
// 500 instead of half a page. Pages carry codes, tokens or CSRF values: never cached.
func (p *Provider) render(w http.ResponseWriter, status int, page string, data any) {
	var buf bytes.Buffer
	if err := p.pages[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		p.log.Error("render page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderLogin shows the login page: a fresh QR to scan with the app and the
// password form as the fallback. A password error opens the password form.
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
			qrMessage = "A QR code cannot be shown right now; sign in with your password."
		}
	}
	p.render(w, status, "login.html", map[string]any{
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

func (p *Provider) renderConsent(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, client *fositestore.Client, user storage.User, authz string) {
	var scopes []string
	for _, s := range ar.GetRequestedScopes() {
		if d, ok := scopeDescriptions[s]; ok {
			scopes = append(scopes, d)
		} else {
			scopes = append(scopes, s)
		}
	}
	host := ""
	if u, err := url.Parse(client.ClientURI); err == nil {
		host = u.Host
	}
	p.render(w, http.StatusOK, "consent.html", map[string]any{
		"Client":     viewOf(client),
		"ClientHost": host,
		"Scopes":     scopes,
		"Username":   user.Username,
		"CSRF":       p.csrfToken(w, r),
		"Authz":      authz,
	})
}

func (p *Provider) renderError(w http.ResponseWriter, r *http.Request, status int, title, message, code string) {
	if status < 400 {
		status = http.StatusBadRequest
	}
	p.render(w, status, "error.html", map[string]any{"Title": title, "Message": message, "Code": code})
}
