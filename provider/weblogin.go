package provider

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	"github.com/ory/fosite"

	"github.com/qrid/qrid/grants/qr"
	"github.com/qrid/qrid/provider/fositestore"
	"github.com/qrid/qrid/provider/i18n"
	"github.com/qrid/qrid/storage"
)

// The QR on the login page (DESIGN §1b). When /oauth2/auth needs a sign-in, the page
// shows a QR session of kind "web" bound to this browser: its BrowserBinding is a
// digest of the browser's HttpOnly CSRF cookie, so only this browser can follow it
// (GET /login/qr/{id}/events, .../status) or complete it (POST /login/qr/complete);
// any other browser is told 404, and learns nothing about it. The page follows the
// session over Server-Sent Events (a long-poll on .../status for browsers without
// EventSource), completes the authorization when the phone approves — the phone's
// confirmation is the consent for the scopes it showed — and asks for a fresh QR
// (POST /login/qr/renew) when one expires or is refused.

// webQRView is what the login page shows of a web QR session.
type webQRView struct {
	ID        string `json:"qr_id"`
	ImageURI  string `json:"image_uri"`
	UserCode  string `json:"user_code"`
	MatchCode string `json:"match_code,omitempty"`
	ExpiresIn int    `json:"expires_in"`
	EventsURI string `json:"events_uri"`
	StatusURI string `json:"status_uri"`
}

// browserBinding is the digest a web QR session is bound to.
func (p *Provider) browserBinding(w http.ResponseWriter, r *http.Request) string {
	p.csrfToken(w, r) // makes sure the browser has its cookie
	return p.digests.qrBinding.String(p.cookie(r, "qrid_csrf"))
}

// newWebQR starts a QR session for the login page of ar.
func (p *Provider) newWebQR(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester) (*webQRView, error) {
	if ok, _ := p.webQRLimiter.Take(clientIP(r), p.now()); !ok {
		return nil, errWebQRLimited
	}
	client := ar.GetClient().(*fositestore.Client)
	a, err := p.qr.Authorize(r.Context(), qr.AuthorizeRequest{
		ClientID:           client.ID,
		Scopes:             ar.GetRequestedScopes(),
		Kind:               "web",
		Matching:           !client.FirstParty,
		RequesterIP:        clientIP(r),
		RequesterUserAgent: truncate(r.UserAgent(), 256),
		BrowserBinding:     p.browserBinding(w, r),
	})
	if err != nil {
		return nil, err
	}
	return &webQRView{
		ID: a.QRID, ImageURI: "/qr/" + a.QRID + ".svg", UserCode: a.UserCode, MatchCode: a.MatchCode,
		ExpiresIn: a.ExpiresIn,
		EventsURI: "/login/qr/" + a.QRID + "/events", StatusURI: "/login/qr/" + a.QRID + "/status",
	}, nil
}

var errWebQRLimited = errors.New("too many sign-in codes from this address")

// ownWebQR loads a web QR session if it is bound to this browser.
func (p *Provider) ownWebQR(r *http.Request, id string) (storage.QRSession, bool) {
	if qr.ParseQRContent(p.cfg.Issuer, id) == "" {
		return storage.QRSession{}, false
	}
	value := p.cookie(r, "qrid_csrf")
	if value == "" {
		return storage.QRSession{}, false
	}
	sess, err := p.qr.Session(r.Context(), id)
	if err != nil || sess.Kind != "web" {
		return storage.QRSession{}, false
	}
	want := p.digests.qrBinding.String(value)
	if subtle.ConstantTimeCompare([]byte(sess.BrowserBinding), []byte(want)) != 1 {
		return storage.QRSession{}, false
	}
	return sess, true
}

// webQRStatus is the login page's view of a session's state.
type webQRStatus struct {
	Status string `json:"status"` // pending, scanned, approved, denied, expired, used
	Reason string `json:"reason,omitempty"`
}

func webStatusOf(s storage.QRSession, now time.Time) webQRStatus {
	switch qr.Status(s, now) {
	case qr.PollApproved:
		return webQRStatus{Status: "approved"}
	case qr.PollDenied:
		return webQRStatus{Status: "denied", Reason: s.DenyReason}
	case qr.PollExpired:
		return webQRStatus{Status: "expired"}
	case qr.PollConsumed:
		return webQRStatus{Status: "used"}
	default:
		return webQRStatus{Status: string(s.State)}
	}
}

func (st webQRStatus) final() bool { return st.Status != "pending" && st.Status != "scanned" }

// qrEvents serves GET /login/qr/{id}/events: the session's status as Server-Sent
// Events, one "status" event per change, until a final status.
func (p *Provider) qrEvents(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if _, ok := p.ownWebQR(r, id); !ok {
		writeJSONError(w, http.StatusNotFound, "not_found", "No such sign-in code in this browser.")
		return
	}
	ip := clientIP(r)
	if !p.heldPerIP.Acquire(ip) {
		w.Header().Set("Retry-After", "5")
		writeJSONError(w, http.StatusTooManyRequests, "rate_limited", "Too many open status streams from this address.")
		return
	}
	defer p.heldPerIP.Release(ip)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	ctx := r.Context()
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	// The stream counts as watching once its first status is out.
	counted := false
	defer func() {
		if counted {
			p.watchers.Add(-1)
		}
	}()
	last := ""
	for {
		sess, changed, err := p.qr.Watch(ctx, id)
		if err != nil {
			return
		}
		now := p.now()
		st := webStatusOf(sess, now)
		if st.Status != last {
			body, _ := json.Marshal(st)
			if _, err := fmt.Fprintf(w, "event: status\ndata: %s\n\n", body); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			last = st.Status
			if !counted {
				counted = true
				p.watchers.Add(1)
			}
		}
		if st.final() {
			return
		}
		expiry := time.NewTimer(sess.ExpiresAt.Sub(now))
		select {
		case <-changed:
		case <-expiry.C:
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				expiry.Stop()
				return
			}
			_ = rc.Flush()
		case <-p.qr.Draining():
			expiry.Stop()
			return
		case <-ctx.Done():
			expiry.Stop()
			return
		}
		expiry.Stop()
	}
}

// qrStatus serves GET /login/qr/{id}/status?since=S&wait=N: the long-poll fallback
// for browsers without EventSource. It answers at once unless the status is still
// since, in which case it waits up to N seconds (at most 25) for a change.
func (p *Provider) qrStatus(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if _, ok := p.ownWebQR(r, id); !ok {
		writeJSONError(w, http.StatusNotFound, "not_found", "No such sign-in code in this browser.")
		return
	}
	wait := 0
	if v := r.URL.Query().Get("wait"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 25 {
			writeJSONError(w, http.StatusBadRequest, "invalid_request", "wait must be a number of seconds from 0 to 25.")
			return
		}
		wait = n
	}
	if wait > 0 {
		ip := clientIP(r)
		if p.heldPerIP.Acquire(ip) {
			defer p.heldPerIP.Release(ip)
		} else {
			wait = 0
		}
	}
	since := r.URL.Query().Get("since")
	ctx := r.Context()
	deadline := time.NewTimer(time.Duration(wait) * time.Second)
	defer deadline.Stop()
	p.watchers.Add(1)
	defer p.watchers.Add(-1)
	for {
		sess, changed, err := p.qr.Watch(ctx, id)
		if err != nil {
			writeJSONError(w, http.StatusNotFound, "not_found", "No such sign-in code in this browser.")
			return
		}
		now := p.now()
		st := webStatusOf(sess, now)
		if st.Status != since || st.final() {
			w.Header().Set("Cache-Control", "no-store")
			writeJSON(w, http.StatusOK, st)
			return
		}
		expiry := time.NewTimer(sess.ExpiresAt.Sub(now))
		select {
		case <-changed:
			expiry.Stop()
			continue
		case <-expiry.C:
			continue
		case <-deadline.C:
		case <-p.qr.Draining():
		case <-ctx.Done():
			expiry.Stop()
			return
		}
		expiry.Stop()
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, st)
		return
	}
}

// qrRenew serves POST /login/qr/renew: a fresh QR for the same authorization
// request, as JSON, so the page can swap it in without a reload.
func (p *Provider) qrRenew(w http.ResponseWriter, r *http.Request) {
	ar, _, _, ok := p.readAuthzForm(w, r)
	if !ok {
		return
	}
	view, err := p.newWebQR(w, r, ar)
	if errors.Is(err, errWebQRLimited) || errors.Is(err, qr.ErrTooManyPending) {
		w.Header().Set("Retry-After", "30")
		writeJSONError(w, http.StatusTooManyRequests, "rate_limited", "Too many sign-in codes were asked for; wait a little and try again.")
		return
	}
	if err != nil {
		p.log.Error("renew web QR", "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, "unavailable", "A new code cannot be made right now.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, view)
}

// qrComplete serves POST /login/qr/complete: the page's form once the phone has
// approved. The session is consumed (once), the browser is signed in as the person
// who approved, and the authorization continues — the approval was the consent.
func (p *Provider) qrComplete(w http.ResponseWriter, r *http.Request) {
	ar, query, requestedAt, ok := p.readAuthzForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	id := r.PostForm.Get("qr_id")
	sess, owned := p.ownWebQR(r, id)
	if !owned || sess.ClientID != ar.GetClient().GetID() {
		p.renderError(w, r, http.StatusNotFound, i18n.ErrorSignInNotCompleted, i18n.MessageQRNotThisBrowser, "invalid_request")
		return
	}
	consumed, err := p.qr.Consume(ctx, id)
	if err != nil {
		p.renderLoginMessage(w, r, ar, r.PostForm.Get("authz"), i18n.LoginQRUsed, http.StatusConflict)
		return
	}
	p.hub.Publish(consumed)
	user, err := p.store.GetUser(ctx, consumed.AccountID)
	if err != nil {
		p.renderLoginMessage(w, r, ar, r.PostForm.Get("authz"), i18n.LoginQRAccountGone, http.StatusConflict)
		return
	}
	if _, err := p.startBrowserSession(w, r, user.ID, []string{"qr"}); err != nil {
		p.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err))
		return
	}
	p.refreshSessionCookie(w, r)
	if err := p.rememberConsent(ctx, user.ID, consumed.ClientID, consumed.Scopes); err != nil {
		p.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err))
		return
	}
	p.continueAuthorize(w, r, ar, query, requestedAt, true)
}
