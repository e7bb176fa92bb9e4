package mobile

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/qrid/qrid/provider/dpop"
	"github.com/qrid/qrid/storage"
)

// CodeInvalidDPoPProof answers a DPoP proof that is missing, malformed, stale,
// replayed, for another request or signed with another key (RFC 9449 §7.1).
const CodeInvalidDPoPProof = "invalid_dpop_proof"

// dpopChallenge is the DPoP challenge offered with every 401 (RFC 9449 §7.1).
var dpopChallenge = `DPoP realm="qrid-mobile", algs="` + dpop.AlgorithmNames() + `"`

// credentials splits `Authorization: Bearer <token>` or `Authorization: DPoP
// <token>` (the scheme compared case-insensitively) into the scheme, as written in
// the constants, and the token.
func credentials(r *http.Request) (scheme, token string, ok bool) {
	s, t, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	t = strings.TrimSpace(t)
	if !ok || t == "" {
		return "", "", false
	}
	switch {
	case strings.EqualFold(s, "Bearer"):
		return "Bearer", t, true
	case strings.EqualFold(s, dpop.Scheme):
		return dpop.Scheme, t, true
	}
	return "", "", false
}

// issuer is the URL the app reaches qrid at: Issuer, else the QR service's.
func (h *Handler) issuer() string {
	if h.Issuer != "" {
		return strings.TrimRight(h.Issuer, "/")
	}
	if h.QR != nil {
		return strings.TrimRight(h.QR.Config().Issuer, "/")
	}
	return ""
}

// dpopError is a refused proof (answered invalid_dpop_proof) or a token presented
// in the wrong scheme (answered unauthorized); challenge is the error parameter of
// the DPoP challenge: "invalid_dpop_proof" or "invalid_token".
type dpopError struct {
	challenge string
	apiError  *apiError
}

func (e *dpopError) Error() string { return e.apiError.Message }

func proofError(format string, args ...any) *dpopError {
	return &dpopError{challenge: CodeInvalidDPoPProof,
		apiError: newError(http.StatusUnauthorized, CodeInvalidDPoPProof, format, args...)}
}

func tokenError(format string, args ...any) *dpopError {
	return &dpopError{challenge: "invalid_token",
		apiError: newError(http.StatusUnauthorized, CodeUnauthorized, format, args...)}
}

// writeDPoPError answers e with its DPoP challenge (RFC 9449 §7.1, RFC 6750 §3).
func writeDPoPError(w http.ResponseWriter, e *dpopError) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`DPoP realm="qrid-mobile", error=%q, error_description="%s", algs="%s"`,
		e.challenge, challengeText(e.apiError.Message), dpop.AlgorithmNames()))
	writeError(w, e.apiError)
}

// challengeText makes s fit an error_description: printable ASCII without '"' and
// '\' (RFC 6750 §3).
func challengeText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\' || r < 0x20 || r > 0x7e:
			return -1
		}
		return r
	}, s)
}

// proofFor verifies the request's DPoP proof for token ("" at sign-in) and records
// its jti as used, on every node (storage.DPoPStore). A refused proof is a
// *dpopError; anything else is the store's failure.
func (h *Handler) proofFor(r *http.Request, token string) (dpop.Proof, error) {
	proofs := r.Header.Values(dpop.HeaderName)
	switch {
	case len(proofs) == 0:
		return dpop.Proof{}, proofError("The DPoP header is missing; send a fresh DPoP proof with every request made with this token.")
	case len(proofs) > 1:
		return dpop.Proof{}, proofError("Send one DPoP header, not %d.", len(proofs))
	}
	issuer := h.issuer()
	if issuer == "" {
		return dpop.Proof{}, proofError("This server does not accept DPoP proofs: it has no issuer URL configured.")
	}
	proof, err := dpop.Verify(proofs[0], dpop.Request{
		Method:      r.Method,
		URL:         issuer + r.URL.EscapedPath(),
		AccessToken: token,
		Now:         h.now(),
	})
	var pe *dpop.Error
	if errors.As(err, &pe) {
		return dpop.Proof{}, proofError("%s", pe.Message)
	}
	if err != nil {
		return dpop.Proof{}, err
	}
	return proof, nil
}

// useProof records proof's jti as used; a replay is a *dpopError.
func (h *Handler) useProof(r *http.Request, proof dpop.Proof) error {
	err := h.Store.UseDPoPProof(r.Context(), proof.Thumbprint, proof.JTI, proof.ReplayUntil())
	if errors.Is(err, storage.ErrConflict) {
		return proofError("This DPoP proof was used already; make a fresh proof (a new jti) for every request.")
	}
	if err != nil {
		return fmt.Errorf("mobile: record the DPoP proof: %w", err)
	}
	return nil
}

// checkBinding authenticates a request made with device's token as its binding
// demands: a bearer token is sent as Bearer (a DPoP header, if any, is not looked
// at); a DPoP-bound token is sent as DPoP with a fresh proof signed by the key it is
// bound to (RFC 9449 §7.1).
func (h *Handler) checkBinding(r *http.Request, device storage.Device, scheme, token string) error {
	if device.DPoPThumbprint == "" {
		if scheme != "Bearer" {
			return tokenError("This device token is not bound to a DPoP key; send it as Authorization: Bearer <token>.")
		}
		return nil
	}
	if scheme != dpop.Scheme {
		return tokenError("This device token is bound to a DPoP key; send it as Authorization: DPoP <token> with a DPoP proof.")
	}
	proof, err := h.proofFor(r, token)
	if err != nil {
		return err
	}
	if proof.Thumbprint != device.DPoPThumbprint {
		return proofError("The DPoP proof is signed with a key other than the one this device token is bound to.")
	}
	return h.useProof(r, proof)
}
