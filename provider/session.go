package provider

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/qrid/qrid/storage"
)

// authzLifetime bounds how long a login or consent page can be left open.
const authzLifetime = 30 * time.Minute

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// cookieName prefixes names with __Host- when cookies are Secure, so a sibling
// subdomain cannot plant them.
func (p *Provider) cookieName(base string) string {
	if p.secure {
		return "__Host-" + base
	}
	return base
}

func (p *Provider) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name:     p.cookieName(name),
		Value:    value,
		Path:     "/",
		MaxAge:   int(maxAge.Seconds()),
		HttpOnly: true,
		Secure:   p.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

func (p *Provider) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: p.cookieName(name), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode})
}

func (p *Provider) cookie(r *http.Request, name string) string {
	c, err := r.Cookie(p.cookieName(name))
	if err != nil {
		return ""
	}
	return c.Value
}

// browserSession returns the SSO session of the request's cookie, or nil when there
// is none or it has expired.
func (p *Provider) browserSession(r *http.Request) (*storage.BrowserSession, error) {
	value := p.cookie(r, "qrid_session")
	if value == "" {
		return nil, nil
	}
	s, err := p.store.GetBrowserSession(r.Context(), p.digests.session.String(value))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !p.now().Before(s.ExpiresAt) {
		return nil, nil
	}
	return &s, nil
}

// startBrowserSession signs the browser in as subject, replacing any session it had
// (a new cookie value on every sign-in prevents session fixation).
func (p *Provider) startBrowserSession(w http.ResponseWriter, r *http.Request, subject string, amr []string) (*storage.BrowserSession, error) {
	if old := p.cookie(r, "qrid_session"); old != "" {
		if err := p.store.DeleteBrowserSession(r.Context(), p.digests.session.String(old)); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return nil, err
		}
	}
	value := randomToken()
	now := p.now().UTC()
	s := storage.BrowserSession{
		ID:        p.digests.session.String(value),
		Subject:   subject,
		AuthTime:  now.Truncate(time.Second),
		AMR:       amr,
		CreatedAt: now,
		ExpiresAt: now.Add(SessionLifetime),
	}
	if err := p.store.CreateBrowserSession(r.Context(), s); err != nil {
		return nil, err
	}
	p.setCookie(w, "qrid_session", value, SessionLifetime)
	return &s, nil
}

// endBrowserSession signs the browser out.
func (p *Provider) endBrowserSession(w http.ResponseWriter, r *http.Request) error {
	p.clearCookie(w, "qrid_session")
	value := p.cookie(r, "qrid_session")
	if value == "" {
		return nil
	}
	err := p.store.DeleteBrowserSession(r.Context(), p.digests.session.String(value))
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	return err
}

// sid is the ID token's session identifier: a digest of the stored session ID.
func (p *Provider) sid(s *storage.BrowserSession) string {
	return p.digests.sid.String(s.ID)
}

// csrfToken returns the form token of this browser, setting the CSRF cookie when the
// browser has none yet. The token is an HMAC of the cookie, so a planted cookie is
// useless without the server's key.
func (p *Provider) csrfToken(w http.ResponseWriter, r *http.Request) string {
	value := p.cookie(r, "qrid_csrf")
	if value == "" {
		value = randomToken()
		p.setCookie(w, "qrid_csrf", value, 0)
		// Later reads in this request see the new cookie.
		r.AddCookie(&http.Cookie{Name: p.cookieName("qrid_csrf"), Value: value})
	}
	return p.digests.csrf.String(value)
}

// checkCSRF reports whether the submitted form token belongs to this browser.
func (p *Provider) checkCSRF(r *http.Request) bool {
	value := p.cookie(r, "qrid_csrf")
	got := r.PostForm.Get("csrf")
	if value == "" || got == "" {
		return false
	}
	return hmac.Equal([]byte(got), []byte(p.digests.csrf.String(value)))
}

// authzEnvelope is the authorization request carried through the login and consent
// forms: the original query and the time it was first received.
type authzEnvelope struct {
	Query       string `json:"q"`
	RequestedAt int64  `json:"t"`
}

// sealAuthz signs the request so the forms cannot alter it.
func (p *Provider) sealAuthz(query string, requestedAt time.Time) string {
	body, _ := json.Marshal(authzEnvelope{Query: query, RequestedAt: requestedAt.Unix()})
	payload := base64.RawURLEncoding.EncodeToString(body)
	return payload + "." + base64.RawURLEncoding.EncodeToString(p.digests.authz.Sum([]byte(payload)))
}

var errBadAuthz = errors.New("the sign-in form is invalid or has expired; start again from the application")

// openAuthz verifies a sealed request and returns its query and request time.
func (p *Provider) openAuthz(sealed string) (string, time.Time, error) {
	payload, sig, ok := strings.Cut(sealed, ".")
	if !ok {
		return "", time.Time{}, errBadAuthz
	}
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !p.digests.authz.Equal(mac, []byte(payload)) {
		return "", time.Time{}, errBadAuthz
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", time.Time{}, errBadAuthz
	}
	var env authzEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return "", time.Time{}, errBadAuthz
	}
	at := time.Unix(env.RequestedAt, 0).UTC()
	if p.now().Sub(at) > authzLifetime {
		return "", time.Time{}, errBadAuthz
	}
	return env.Query, at, nil
}
