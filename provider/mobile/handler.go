package mobile

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/qrid/qrid/grants/qr"
	"github.com/qrid/qrid/provider/audit"
	"github.com/qrid/qrid/provider/digest"
	"github.com/qrid/qrid/provider/jsonapi"
	"github.com/qrid/qrid/provider/ratelimit"
	"github.com/qrid/qrid/storage"
)

// PathPrefix is where the mobile API is mounted.
const PathPrefix = "/api/mobile/v1"

// The routes, as gorilla/mux path templates under PathPrefix.
const (
	pathLogin   = "/login"
	pathLogout  = "/logout"
	pathDevices = "/devices"
	pathDevice  = "/devices/{id}"
	pathScan    = "/qr/scan"
	pathConfirm = "/qr/confirm"
	pathOpenAPI = "/openapi.json"
)

// ClientGetter reads registered clients by ID; storage.ErrNotFound for an unknown
// one. The value returned must be the caller's own.
type ClientGetter interface {
	Get(ctx context.Context, id string) (storage.Client, error)
}

// storeClients reads clients straight from a store.
type storeClients struct{ store storage.Storage }

func (s storeClients) Get(ctx context.Context, id string) (storage.Client, error) {
	return s.store.GetClient(ctx, id)
}

// clientGetter is Clients, or the store when it is nil.
func (h *Handler) clientGetter() ClientGetter {
	if h.Clients != nil {
		return h.Clients
	}
	return storeClients{h.Store}
}

// authRealm is the realm of the WWW-Authenticate challenge (RFC 6750 §3).
const authRealm = `Bearer realm="qrid-mobile"`

// Handler serves the mobile API. Set its fields, then call Mount once; the fields
// must not change afterwards.
type Handler struct {
	Store storage.Storage
	// Clients, when set, is where a scan reads the client it names (typically the
	// node's *clientcache.Cache, so scans read no client row); nil means Store.
	Clients ClientGetter
	QR      *qr.Service
	// Issuer is qrid's issuer URL, the base of the URL a DPoP proof must name
	// (htu, RFC 9449 §4.3): the issuer followed by the request path. "" means the
	// QR service's issuer.
	Issuer string
	// DeviceTokens computes the keyed digest under which device tokens are stored.
	DeviceTokens *digest.Keyed
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives the request log and the security events; nil logs nothing.
	Logger *slog.Logger
	// Audit records the security events in the audit trail; nil records nothing.
	Audit *audit.Recorder

	// LoginPerAccount limits failed sign-ins per username, LoginPerIP per client
	// address and ScanPerAccount scans and typed user codes per account. A zero Limit
	// means the default (DefaultLoginPerAccount, DefaultLoginPerIP,
	// DefaultScanPerAccount).
	LoginPerAccount Limit
	LoginPerIP      Limit
	ScanPerAccount  Limit
	// MaxLimiterKeys bounds the keys each limiter remembers; 0 means
	// DefaultMaxLimiterKeys.
	MaxLimiterKeys int
	// NoRateLimits turns the three limits off (load tests only).
	NoRateLimits bool

	log          *slog.Logger
	loginAccount *ratelimit.Limiter
	loginIP      *ratelimit.Limiter
	scanAccount  *ratelimit.Limiter
}

// Mount registers every route of the mobile API under PathPrefix on r (qrid's public
// router), and after them a route that answers, as JSON, every other path under
// PathPrefix: 405 with Allow for a known path and a wrong method, 404 otherwise.
// Mount must be called before r gets a catch-all route of its own.
func (h *Handler) Mount(r *mux.Router) {
	h.log = h.Logger
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if !h.NoRateLimits { // nil limiters allow everything
		h.loginAccount = newLimiter(h.LoginPerAccount, DefaultLoginPerAccount, h.MaxLimiterKeys)
		h.loginIP = newLimiter(h.LoginPerIP, DefaultLoginPerIP, h.MaxLimiterKeys)
		h.scanAccount = newLimiter(h.ScanPerAccount, DefaultScanPerAccount, h.MaxLimiterKeys)
	}
	// Hash the stand-in password now rather than during the first sign-in with an
	// unknown username, which would then take longer than the others.
	go dummyHash()

	var routes []*mux.Route
	route := func(path string, hf http.HandlerFunc, method string) {
		routes = append(routes, r.Handle(PathPrefix+path, h.common(hf)).Methods(method))
	}
	route(pathOpenAPI, serveOpenAPI, http.MethodGet)
	route(pathLogin, h.login, http.MethodPost)
	route(pathLogout, h.authed(h.logout), http.MethodPost)
	route(pathDevices, h.authed(h.listDevices), http.MethodGet)
	route(pathDevice, h.authed(h.deleteDevice), http.MethodDelete)
	route(pathScan, h.authed(h.scan), http.MethodPost)
	route(pathConfirm, h.authed(h.confirm), http.MethodPost)

	r.PathPrefix(PathPrefix + "/").Handler(h.common(func(w http.ResponseWriter, req *http.Request) {
		allow := allowedMethods(routes, req)
		if len(allow) == 0 {
			writeError(w, newError(http.StatusNotFound, CodeNotFound, "No mobile API route matches %s.", req.URL.Path))
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, newError(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
			"%s is not allowed on %s; use %s.", req.Method, req.URL.Path, strings.Join(allow, " or ")))
	}))
}

// allowedMethods lists the methods routes serve on req's path.
func allowedMethods(routes []*mux.Route, req *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := req.Clone(req.Context())
		probe.Method = m
		for _, rt := range routes {
			var match mux.RouteMatch
			if rt.Match(probe, &match) && match.MatchErr == nil {
				allow = append(allow, m)
				break
			}
		}
	}
	return allow
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Middleware.

// common sets the headers every answer carries (Cache-Control: no-store: tokens and
// personal data must not be cached), turns a panic into a logged 500 and logs the
// request: method, route, status and duration, never bodies or headers.
func (h *Handler) common(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		sw := &jsonapi.StatusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.log.ErrorContext(r.Context(), "mobile handler panicked", "method", r.Method, "path", r.URL.Path,
					"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if !sw.Written() {
					writeError(sw, errInternal)
				}
			}
			h.log.InfoContext(r.Context(), "mobile request", "method", r.Method, "path", r.URL.Path,
				"status", sw.Status(), "duration", time.Since(start))
		}()
		next(sw, r)
	})
}

// authedFunc is a handler for an authenticated call: device is the caller.
type authedFunc func(w http.ResponseWriter, r *http.Request, device storage.Device)

// authed authenticates the caller before next: the device token of
// `Authorization: Bearer` (RFC 6750 §2.1), or of `Authorization: DPoP` with a DPoP
// proof when the token is DPoP-bound (RFC 9449 §7.1, see checkBinding), must belong
// to a signed-in device whose DeviceID equals X-Device-Id. The token is looked up on
// every request, so a revoked device is refused at once.
func (h *Handler) authed(next authedFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		deny := func(format string, args ...any) {
			w.Header().Set("WWW-Authenticate", authRealm)
			w.Header().Add("WWW-Authenticate", dpopChallenge)
			writeError(w, newError(http.StatusUnauthorized, CodeUnauthorized, format, args...))
		}
		// A token that was sent but is not (or no longer) valid is named so in the
		// challenge of its scheme (RFC 6750 §3.1, RFC 9449 §7.1); a request without
		// credentials gets the bare challenges.
		denyToken := func(scheme, format string, args ...any) {
			bearer, dp := authRealm, dpopChallenge
			if strings.EqualFold(scheme, "DPoP") {
				dp += `, error="invalid_token"`
			} else {
				bearer += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", bearer)
			w.Header().Add("WWW-Authenticate", dp)
			writeError(w, newError(http.StatusUnauthorized, CodeUnauthorized, format, args...))
		}
		if len(r.Header.Values("Authorization")) > 1 || len(r.Header.Values("X-Device-Id")) > 1 {
			writeError(w, invalidRequest("Send the Authorization and X-Device-Id headers once each."))
			return
		}
		scheme, token, ok := credentials(r)
		if !ok {
			deny("The device token is missing; send Authorization: Bearer <token> (or DPoP <token> with a DPoP proof).")
			return
		}
		deviceID := r.Header.Get("X-Device-Id")
		if deviceID == "" {
			deny("The X-Device-Id header is missing; send the device ID the token was issued for.")
			return
		}
		if len(token) > maxTokenLen {
			denyToken(scheme, "The device token is not valid; sign in again.")
			return
		}
		device, err := h.Store.GetDeviceByToken(r.Context(), h.DeviceTokens.String(token))
		if errors.Is(err, storage.ErrNotFound) {
			denyToken(scheme, "The device token is not valid; sign in again.")
			return
		}
		if err != nil {
			h.fail(w, r, fmt.Errorf("mobile: look up device token: %w", err))
			return
		}
		if device.DeviceID != deviceID {
			h.log.InfoContext(r.Context(), "mobile token used with another device ID",
				"account_id", device.AccountID, "device", device.ID, "ip", clientIP(r))
			denyToken(scheme, "The device token was issued to another device.")
			return
		}
		var de *dpopError
		switch err := h.checkBinding(r, device, scheme, token); {
		case errors.As(err, &de):
			h.log.InfoContext(r.Context(), "mobile DPoP refused", "account_id", device.AccountID,
				"device", device.ID, "reason", de.apiError.Message, "ip", clientIP(r))
			writeDPoPError(w, de)
			return
		case err != nil:
			h.fail(w, r, err)
			return
		}
		next(w, r, device)
	}
}

// maxTokenLen bounds the device tokens looked up (they are 43 characters).
const maxTokenLen = 256

// clientIP is the host part of r.RemoteAddr. Proxy headers (Forwarded,
// X-Forwarded-For) are not trusted.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// fail answers err: a *qr.Error or *apiError with its status and code, anything else
// as a logged 500 whose details stay in the log.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var (
		qe *qr.Error
		ae *apiError
	)
	switch {
	case errors.As(err, &ae):
		writeError(w, ae)
	case errors.As(err, &qe):
		writeError(w, &apiError{Status: qe.Status, Code: qe.Code, Message: qe.Message})
	case errors.Is(err, context.Canceled):
		// The app went away; there is no one to answer.
	default:
		h.log.ErrorContext(r.Context(), "mobile request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeError(w, errInternal)
	}
}

// rateLimited answers 429 with Retry-After in whole seconds (RFC 9110 §10.2.3).
func rateLimited(w http.ResponseWriter, wait time.Duration, message string) {
	secs := int((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, newError(http.StatusTooManyRequests, CodeRateLimited, "%s Try again in %d seconds.", message, secs))
}

// randomString returns n random bytes in unpadded base64url.
func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
