package mobile

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/qrid/qrid/grants/qr"
	"github.com/qrid/qrid/provider/jsonapi"
	"github.com/qrid/qrid/storage"
)

// maxScanLen bounds the scanned text and the typed user code.
const maxScanLen = 2048

// ScanRequest is the body of POST /qr/scan: exactly one of QR (the scanned text, the
// {issuer}/q/{qr_id} URL or a bare qr_id) and UserCode (typed by the person).
type ScanRequest struct {
	QR       string `json:"qr,omitempty"`
	UserCode string `json:"user_code,omitempty"`
}

// ScanResponse is what the phone shows on the confirmation screen.
type ScanResponse struct {
	// ConfirmToken is the one-time token of the decision, valid ExpiresIn seconds.
	ConfirmToken string     `json:"confirm_token"`
	ExpiresIn    int        `json:"expires_in"`
	Client       ClientInfo `json:"client"`
	Scopes       []string   `json:"scopes"`
	Requester    Requester  `json:"requester"`
	// MatchChoices are the three numbers offered when number matching is on.
	MatchChoices []string `json:"match_choices,omitempty"`
}

// ClientInfo describes the application asking to sign the person in.
type ClientInfo struct {
	ClientID   string `json:"client_id"`
	Name       string `json:"name"`
	LogoURI    string `json:"logo_uri,omitempty"`
	ClientURI  string `json:"client_uri,omitempty"`
	FirstParty bool   `json:"first_party"`
}

// Requester describes the PC or browser that showed the QR code.
type Requester struct {
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	CreatedAt time.Time `json:"created_at"`
	// SameNetwork is whether the requester's address is on the phone's network
	// (the same IPv4 /24 or IPv6 /64). A sign-in started on another network than
	// the phone's deserves a second look (a relayed QR: QRLJacking).
	SameNetwork bool `json:"same_network"`
}

// sameNetwork reports whether a and b are in the same IPv4 /24 or IPv6 /64.
func sameNetwork(a, b string) bool {
	pa, errA := netip.ParseAddr(a)
	pb, errB := netip.ParseAddr(b)
	if errA != nil || errB != nil {
		return false
	}
	pa, pb = pa.Unmap(), pb.Unmap()
	if pa.Is4() != pb.Is4() {
		return false
	}
	bits := 64
	if pa.Is4() {
		bits = 24
	}
	na, _ := pa.Prefix(bits)
	nb, _ := pb.Prefix(bits)
	return na == nb
}

var errClientGone = newError(http.StatusNotFound, CodeNotFound,
	"The application that asked for this sign-in no longer exists.")

func (h *Handler) scan(w http.ResponseWriter, r *http.Request, device storage.Device) {
	var req ScanRequest
	if !decode(w, r, &req) {
		return
	}
	switch {
	case req.QR == "" && req.UserCode == "":
		writeError(w, invalidRequest("Send either qr (the scanned text) or user_code (the typed code)."))
		return
	case req.QR != "" && req.UserCode != "":
		writeError(w, invalidRequest("Send only one of qr and user_code."))
		return
	case len(req.QR) > maxScanLen || len(req.UserCode) > maxScanLen:
		writeError(w, invalidRequest("qr and user_code must be at most %d bytes.", maxScanLen))
		return
	}
	ctx := r.Context()
	// Scans are limited per account: a typed user code is short enough to guess at
	// scale otherwise (RFC 8628 §5.1).
	if ok, wait := h.scanAccount.Take(device.AccountID, h.now()); !ok {
		h.log.InfoContext(ctx, "mobile scan rate limited", "account_id", device.AccountID, "device", device.ID)
		rateLimited(w, wait, "Too many codes scanned or typed.")
		return
	}
	method := "qr"
	if req.UserCode != "" {
		method = "user_code"
	}
	res, err := h.QR.Scan(ctx, qr.ScanRequest{
		QR: req.QR, UserCode: req.UserCode,
		AccountID: device.AccountID, DeviceID: device.ID, IP: clientIP(r),
	})
	if err != nil {
		h.log.InfoContext(ctx, "mobile scan refused", "account_id", device.AccountID, "device", device.ID,
			"method", method, "qr_id", res.Session.ID, "error", err.Error())
		h.fail(w, r, err)
		return
	}
	sess := res.Session
	client, err := h.clientGetter().Get(ctx, sess.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, errClientGone)
		return
	}
	if err != nil {
		h.fail(w, r, fmt.Errorf("mobile: get client: %w", err))
		return
	}
	h.log.InfoContext(ctx, "mobile scan", "account_id", device.AccountID, "device", device.ID,
		"method", method, "qr_id", sess.ID, "client_id", sess.ClientID)
	out := ScanResponse{
		ConfirmToken: res.ConfirmToken,
		ExpiresIn:    res.ExpiresIn,
		Client: ClientInfo{
			ClientID: client.ID, Name: client.Name, LogoURI: client.LogoURI,
			ClientURI: client.ClientURI, FirstParty: client.FirstParty,
		},
		Scopes: sess.Scopes,
		Requester: Requester{
			IP: sess.RequesterIP, UserAgent: sess.RequesterUserAgent, CreatedAt: sess.CreatedAt.UTC(),
			SameNetwork: sameNetwork(sess.RequesterIP, clientIP(r)),
		},
	}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	if sess.MatchCode != "" {
		out.MatchChoices = sess.MatchChoices
	}
	jsonapi.Write(w, http.StatusOK, out)
}

// ConfirmRequest is the body of POST /qr/confirm.
type ConfirmRequest struct {
	ConfirmToken string `json:"confirm_token"`
	// Approve is required: true signs the PC in, false refuses.
	Approve *bool `json:"approve"`
	// Match is the number picked, required when approving with number matching on.
	Match string `json:"match,omitempty"`
}

// ConfirmResponse is the outcome: Status is "approved" or "denied".
type ConfirmResponse struct {
	Status string `json:"status"`
}

func (h *Handler) confirm(w http.ResponseWriter, r *http.Request, device storage.Device) {
	var req ConfirmRequest
	if !decode(w, r, &req) {
		return
	}
	switch {
	case req.ConfirmToken == "":
		writeError(w, invalidRequest("confirm_token is required."))
		return
	case req.Approve == nil:
		writeError(w, invalidRequest("approve is required: true to sign in, false to refuse."))
		return
	case req.Match != "" && !validMatch(req.Match):
		writeError(w, invalidRequest("match must be one of the two-digit numbers offered."))
		return
	}
	ctx := r.Context()
	sess, err := h.QR.Confirm(ctx, qr.ConfirmRequest{
		ConfirmToken: req.ConfirmToken, AccountID: device.AccountID, DeviceID: device.ID,
		Approve: *req.Approve, Match: req.Match, IP: clientIP(r),
	})
	if err != nil {
		h.log.InfoContext(ctx, "mobile decision refused", "account_id", device.AccountID, "device", device.ID,
			"qr_id", sess.ID, "approve", *req.Approve, "error", err.Error())
		h.fail(w, r, err)
		return
	}
	status := "denied"
	if sess.State == storage.QRApproved {
		status = "approved"
	}
	h.log.InfoContext(ctx, "mobile decision", "account_id", device.AccountID, "device", device.ID,
		"qr_id", sess.ID, "client_id", sess.ClientID, "status", status)
	jsonapi.Write(w, http.StatusOK, ConfirmResponse{Status: status})
}

// validMatch reports whether s is two decimal digits.
func validMatch(s string) bool {
	return len(s) == 2 && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9'
}
