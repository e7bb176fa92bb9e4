package qrweb

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/qrid/qrid/grants/qr"
	"github.com/qrid/qrid/storage"
)

// Sessions looks QR sessions up by qr_id; *qr.Service is one. Session returns
// qr.ErrNotFound when there is no such session.
type Sessions interface {
	Session(ctx context.Context, qrID string) (storage.QRSession, error)
}

var _ Sessions = (*qr.Service)(nil)

// Handler serves the QR images and the /q/ page.
type Handler struct {
	// QR looks sessions up.
	QR Sessions
	// Issuer is the exact issuer URL, without a trailing slash; the QR content is
	// Issuer + "/q/" + qr_id.
	Issuer string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives store failures; nil means slog.Default().
	Logger *slog.Logger
	// Instrument, when set, wraps each route's handler with the endpoint's name
	// ("qr_image", "qr_page"), for metrics.
	Instrument func(endpoint string, h http.Handler) http.Handler
}

// Mount registers the routes on r (GET and HEAD):
// /qr/{qr_id}.png, /qr/{qr_id}.svg and /q/{qr_id}.
func (h *Handler) Mount(r *mux.Router) {
	wrap := h.Instrument
	if wrap == nil {
		wrap = func(_ string, h http.Handler) http.Handler { return h }
	}
	methods := []string{http.MethodGet, http.MethodHead}
	r.Handle("/qr/{qr_id}.png", wrap("qr_image", http.HandlerFunc(h.servePNG))).Methods(methods...)
	r.Handle("/qr/{qr_id}.svg", wrap("qr_image", http.HandlerFunc(h.serveSVG))).Methods(methods...)
	r.Handle("/q/{qr_id}", wrap("qr_page", http.HandlerFunc(h.servePage))).Methods(methods...)
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) log() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// content is what the QR code of qrID says: the session's verification_uri_complete.
func (h *Handler) content(qrID string) string { return h.Issuer + "/q/" + qrID }

// validID reports whether id has the shape of a qr_id (22 characters of unpadded
// base64url), by the rule the mobile API's scan uses.
func validID(id string) bool {
	return id != "" && qr.ParseQRContent("", id) == id
}

// errNotLive is a session that exists but can no longer be scanned.
var errNotLive = errors.New("qrweb: session is not live")

// liveSession returns the session of qrID when it can still be scanned: pending or
// scanned, and not expired at now. It returns qr.ErrNotFound for a malformed or
// unknown qr_id, errNotLive for a session past scanning, and the store's error
// otherwise.
func (h *Handler) liveSession(ctx context.Context, qrID string, now time.Time) (storage.QRSession, error) {
	if !validID(qrID) {
		return storage.QRSession{}, qr.ErrNotFound
	}
	s, err := h.QR.Session(ctx, qrID)
	if err != nil {
		return storage.QRSession{}, err
	}
	if qr.Expired(s, now) || (s.State != storage.QRPending && s.State != storage.QRScanned) {
		return storage.QRSession{}, errNotLive
	}
	return s, nil
}

// gone reports whether err means "no live session" rather than a failure.
func gone(err error) bool {
	return errors.Is(err, qr.ErrNotFound) || errors.Is(err, errNotLive)
}

// notFoundMessage is the one message for every qr_id that leads nowhere: whether a
// qr_id never existed or has expired is nobody's business.
const notFoundMessage = "This sign-in code has expired or does not exist."

// writeError writes the JSON error shape of qrid's APIs; errors are never cached.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "message": message})
}
