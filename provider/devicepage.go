package provider

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/qrid/qrid/grants/qr"
	"github.com/qrid/qrid/provider/audit"
	"github.com/qrid/qrid/provider/i18n"
	"github.com/qrid/qrid/storage"
)

// The /device pages (RFC 8628 §3.3, verification_uri): a person without the app, or
// who cannot scan, types the user code (or follows /device?qr= from the QR's page),
// signs in on the web and sees the same confirmation screen as the app. The browser's
// SSO session is the "device" bound to the QR session: its confirmations only work
// from that session.

// webDeviceID names the browser session as the device that scanned.
func (p *Provider) webDeviceID(s *storage.BrowserSession) string { return "web-" + p.sid(s) }

// devicePage serves GET /device.
func (p *Provider) devicePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	qrID := qr.ParseQRContent(p.cfg.Issuer, q.Get("qr"))
	p.renderDevice(w, r, http.StatusOK, q.Get("user_code"), qrID, "", "")
}

func (p *Provider) renderDevice(w http.ResponseWriter, r *http.Request, status int, userCode, qrID, username, message string) {
	sess, _ := p.browserSession(r)
	data := map[string]any{
		"CSRF": p.csrfToken(w, r), "UserCode": userCode, "QR": qrID, "Error": message,
		"SignedIn": sess != nil, "Username": username,
	}
	if sess != nil {
		if u, err := p.store.GetUser(r.Context(), sess.Subject); err == nil {
			data["Username"] = u.Username
		}
	}
	p.render(w, r, status, "device.html", data)
}

// deviceSubmit serves POST /device: sign in if needed, then scan the code.
func (p *Provider) deviceSubmit(w http.ResponseWriter, r *http.Request) {
	if !p.readPageForm(w, r, "csrf", "user_code", "qr", "username", "password") {
		return
	}
	ctx := r.Context()
	form := r.PostForm
	userCode, qrID := strings.TrimSpace(form.Get("user_code")), qr.ParseQRContent(p.cfg.Issuer, form.Get("qr"))
	if ok, wait := p.userCodeLimiter.Take(clientIP(r), p.now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		p.renderDevice(w, r, http.StatusTooManyRequests, userCode, qrID, "", i18n.DeviceTooManyAttempts)
		return
	}
	sess, err := p.browserSession(r)
	if err != nil {
		p.renderError(w, r, http.StatusServiceUnavailable, i18n.ErrorSignInUnavailable, i18n.MessageTryAgain, "")
		return
	}
	if sess == nil {
		username := strings.ToLower(strings.TrimSpace(form.Get("username")))
		user, known, err := p.verifyPassword(ctx, username, form.Get("password"))
		if err != nil && !errors.Is(err, errWrongPassword) {
			p.renderError(w, r, http.StatusServiceUnavailable, i18n.ErrorSignInUnavailable, i18n.MessageTryAgain, "")
			return
		}
		if err != nil {
			p.recordAudit(r, storage.AuditEvent{Type: audit.LoginPasswordFailed, AccountID: user.ID,
				Detail: passwordFailure(known) + " page=device"})
			p.renderDevice(w, r, http.StatusUnauthorized, userCode, qrID, username, i18n.LoginWrongPassword)
			return
		}
		if sess, err = p.startBrowserSession(w, r, user.ID, []string{"pwd"}); err != nil {
			p.renderError(w, r, http.StatusServiceUnavailable, i18n.ErrorSignInUnavailable, i18n.MessageTryAgain, "")
			return
		}
		p.recordAudit(r, storage.AuditEvent{Type: audit.LoginPasswordOK, AccountID: user.ID, Detail: "page=device"})
	}
	req := qr.ScanRequest{UserCode: userCode, AccountID: sess.Subject, DeviceID: p.webDeviceID(sess), IP: clientIP(r)}
	if qrID != "" {
		req = qr.ScanRequest{QR: qrID, AccountID: sess.Subject, DeviceID: p.webDeviceID(sess), IP: clientIP(r)}
	} else if userCode == "" {
		p.renderDevice(w, r, http.StatusBadRequest, "", "", "", i18n.DeviceCodeMissing)
		return
	}
	res, err := p.qr.Scan(ctx, req)
	if err != nil {
		var qe *qr.Error
		if errors.As(err, &qe) {
			msg := qrErrorKey(qe)
			if errors.Is(err, qr.ErrNotFound) {
				msg = i18n.DeviceCodeNotValid
			}
			p.renderDevice(w, r, qe.Status, userCode, "", "", msg)
			return
		}
		p.log.Error("web scan", "err", err)
		p.renderError(w, r, http.StatusServiceUnavailable, i18n.ErrorSignInUnavailable, i18n.MessageTryAgain, "")
		return
	}
	client, err := p.clients.Get(ctx, res.Session.ClientID)
	if err != nil {
		p.renderError(w, r, http.StatusNotFound, i18n.ErrorUnknownApplication, i18n.MessageUnknownApplication, "")
		return
	}
	user, _ := p.store.GetUser(ctx, sess.Subject)
	var scopes []string
	for _, s := range res.Session.Scopes {
		if d, ok := scopeDescriptions[s]; ok {
			scopes = append(scopes, d)
		}
	}
	host := ""
	if u, err := url.Parse(client.ClientURI); err == nil {
		host = u.Host
	}
	p.render(w, r, http.StatusOK, "device_confirm.html", map[string]any{
		"Client":       &clientView{Name: client.Name, LogoURI: client.LogoURI},
		"ClientHost":   host,
		"Scopes":       scopes,
		"Username":     user.Username,
		"CSRF":         p.csrfToken(w, r),
		"ConfirmToken": res.ConfirmToken,
		"MatchChoices": res.Session.MatchChoices,
		"Requester": map[string]string{
			"IP": res.Session.RequesterIP, "UserAgent": res.Session.RequesterUserAgent,
			"Time": res.Session.CreatedAt.UTC().Format(time.RFC1123),
		},
	})
}

// deviceConfirm serves POST /device/confirm: the decision.
func (p *Provider) deviceConfirm(w http.ResponseWriter, r *http.Request) {
	if !p.readPageForm(w, r, "csrf", "confirm_token", "decision", "match") {
		return
	}
	sess, err := p.browserSession(r)
	if err != nil || sess == nil {
		p.renderError(w, r, http.StatusUnauthorized, i18n.ErrorSessionEnded, i18n.MessageDeviceSessionEnded, "")
		return
	}
	form := r.PostForm
	var approve bool
	switch form.Get("decision") {
	case "approve":
		approve = true
	case "deny":
	default:
		p.renderError(w, r, http.StatusBadRequest, i18n.ErrorInvalidRequest, i18n.MessageConfirmUnanswered, "invalid_request")
		return
	}
	res, err := p.qr.Confirm(r.Context(), qr.ConfirmRequest{
		ConfirmToken: form.Get("confirm_token"), AccountID: sess.Subject, DeviceID: p.webDeviceID(sess),
		Approve: approve, Match: form.Get("match"), IP: clientIP(r),
	})
	var qe *qr.Error
	switch {
	case errors.As(err, &qe):
		p.render(w, r, qe.Status, "device_done.html", map[string]any{"Title": i18n.ErrorSignInNotCompleted, "Message": qrErrorKey(qe)})
	case err != nil:
		p.log.Error("web confirm", "err", err)
		p.renderError(w, r, http.StatusServiceUnavailable, i18n.ErrorSignInUnavailable, i18n.MessageTryAgain, "")
	case res.State == storage.QRApproved:
		p.render(w, r, http.StatusOK, "device_done.html", map[string]any{"Title": i18n.DoneApproved, "Message": i18n.DoneApprovedMessage})
	default:
		p.render(w, r, http.StatusOK, "device_done.html", map[string]any{"Title": i18n.DoneDenied, "Message": i18n.DoneDeniedMessage})
	}
}

// readPageForm parses a page's form with body limits, no repeated fields among
// fields, and the CSRF check; it renders the error itself.
func (p *Provider) readPageForm(w http.ResponseWriter, r *http.Request, fields ...string) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		p.renderError(w, r, http.StatusUnsupportedMediaType, i18n.ErrorInvalidRequest, i18n.MessageFormContentType, "invalid_request")
		return false
	}
	if err := r.ParseForm(); err != nil {
		p.renderError(w, r, http.StatusBadRequest, i18n.ErrorInvalidRequest, i18n.MessageFormUnreadable, "invalid_request")
		return false
	}
	for _, k := range fields {
		if len(r.PostForm[k]) > 1 {
			p.renderError(w, r, http.StatusBadRequest, i18n.ErrorInvalidRequest, i18n.MessageFieldTwice, "invalid_request")
			return false
		}
	}
	if !p.checkCSRF(r) {
		p.renderError(w, r, http.StatusForbidden, i18n.ErrorRequestRefused, i18n.MessageForeignFormRestart, "invalid_request")
		return false
	}
	return true
}
