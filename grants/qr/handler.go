package qr

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	fositestorage "github.com/ory/fosite/storage"

	"github.com/qrid/qrid/storage"
)

// GrantTypeDeviceCode is the grant type of RFC 8628 §3.4.
const GrantTypeDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// The token endpoint errors of RFC 8628 §3.5 (fosite v0.49 has none of them).
var (
	ErrAuthorizationPending = &fosite.RFC6749Error{ErrorField: "authorization_pending", CodeField: http.StatusBadRequest,
		DescriptionField: "The authorization request is still pending: the person has not confirmed on the phone yet."}
	ErrSlowDownPolling = &fosite.RFC6749Error{ErrorField: "slow_down", CodeField: http.StatusBadRequest,
		DescriptionField: "Polling too fast: add 5 seconds to the interval."}
	ErrExpiredToken = &fosite.RFC6749Error{ErrorField: "expired_token", CodeField: http.StatusBadRequest,
		DescriptionField: "The device_code has expired; start a new sign-in."}
)

// PollError is a token endpoint error with qrid's extension field qr_status:
// "pending" or "scanned" with authorization_pending, and "denied", "contested" or
// "wrong_match" with access_denied. The token endpoint writes it as RFC 6749 §5.2
// JSON plus qr_status.
type PollError struct {
	RFC      *fosite.RFC6749Error
	QRStatus string
	// Interval is the grown polling interval of a slow_down (seconds).
	Interval int
}

func (e *PollError) Error() string { return e.RFC.Error() }

// Unwrap lets fosite (and errors.As) see the RFC 6749 error.
func (e *PollError) Unwrap() error { return e.RFC }

// SessionBuilder fills the fosite session of an approved QR session: subject,
// auth_time, amr and the claims of the person's account.
type SessionBuilder func(ctx context.Context, s storage.QRSession, into *openid.DefaultSession) error

// Handler is the fosite TokenEndpointHandler of the device_code grant (RFC 8628
// §3.4–3.5) with the wait long-poll extension. It follows the shape of fosite's
// rfc7523 handler: narrow storage, a Config of the providers it needs, and an
// embedded HandleHelper for the access token.
//
// HandleTokenEndpointRequest polls (possibly holding the request) and, for an
// approved session, prepares the session and scopes; PopulateTokenEndpointResponse
// consumes the QR session and stores the tokens in one transaction, so of two
// concurrent polls after approval exactly one gets tokens.
type Handler struct {
	Service *Service
	// Transactor makes consumption and token storage one transaction.
	Transactor fositestorage.Transactional
	*oauth2.HandleHelper
	RefreshTokenStrategy oauth2.RefreshTokenStrategy
	RefreshTokenStorage  oauth2.RefreshTokenStorage
	IDTokenHelper        *openid.IDTokenHandleHelper
	BuildSession         SessionBuilder
	Config               interface {
		fosite.AccessTokenLifespanProvider
		fosite.RefreshTokenLifespanProvider
		fosite.IDTokenLifespanProvider
		fosite.RefreshTokenScopesProvider
	}
}

var _ fosite.TokenEndpointHandler = (*Handler)(nil)

// CanSkipClientAuth is false: clients authenticate as registered (public clients
// send their client_id, RFC 8628 §3.4).
func (h *Handler) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

// CanHandleTokenEndpointRequest reports whether the grant type is device_code.
func (h *Handler) CanHandleTokenEndpointRequest(_ context.Context, ar fosite.AccessRequester) bool {
	return ar.GetGrantTypes().ExactOne(GrantTypeDeviceCode)
}

// HandleTokenEndpointRequest answers a poll (RFC 8628 §3.5).
func (h *Handler) HandleTokenEndpointRequest(ctx context.Context, ar fosite.AccessRequester) error {
	if !h.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	if !ar.GetClient().GetGrantTypes().Has(GrantTypeDeviceCode) {
		return fosite.ErrUnauthorizedClient.WithHint("The client is not allowed to use the device_code grant.")
	}
	form := ar.GetRequestForm()
	code := form.Get("device_code")
	if code == "" {
		return fosite.ErrInvalidRequest.WithHint("The device_code parameter is missing.")
	}
	var wait time.Duration
	if v := form.Get("wait"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > int(h.Service.cfg.MaxWait/time.Second) {
			return fosite.ErrInvalidRequest.WithHintf("wait must be a number of seconds from 0 to %d.", int(h.Service.cfg.MaxWait/time.Second))
		}
		wait = time.Duration(n) * time.Second
	}
	res, err := h.Service.Poll(ctx, ar.GetClient().GetID(), code, wait)
	var (
		slow    *ErrSlowDown
		waiting *Waiting
	)
	switch {
	case errors.As(err, &waiting):
		return waiting // the token endpoint waits, then asks again (DeferWait)
	case errors.As(err, &slow):
		return &PollError{RFC: ErrSlowDownPolling, Interval: int(slow.Interval / time.Second)}
	case errors.Is(err, ErrUnknownDeviceCode):
		return fosite.ErrInvalidGrant.WithHint("The device_code is unknown or was issued to another client.")
	case err != nil:
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	sess := res.Session
	switch res.Status {
	case PollPending:
		return &PollError{RFC: ErrAuthorizationPending, QRStatus: string(sess.State)}
	case PollDenied:
		return &PollError{RFC: fosite.ErrAccessDenied.WithHint(denialHint(sess.DenyReason)), QRStatus: sess.DenyReason}
	case PollExpired:
		return ErrExpiredToken
	case PollConsumed:
		return fosite.ErrInvalidGrant.WithHint("The tokens of this device_code were already delivered.")
	}
	session, ok := ar.GetSession().(*openid.DefaultSession)
	if !ok {
		return fosite.ErrServerError.WithDebug("the device_code grant needs an openid.DefaultSession")
	}
	// The session's claims are built in PopulateTokenEndpointResponse, inside the
	// delivery's transaction.
	ar.SetRequestedScopes(sess.Scopes)
	for _, s := range sess.Scopes {
		ar.GrantScope(s)
	}
	ar.SetID(sess.ID)
	atLifespan := fosite.GetEffectiveLifespan(ar.GetClient(), fosite.GrantType(GrantTypeDeviceCode), fosite.AccessToken, h.Config.GetAccessTokenLifespan(ctx))
	session.SetExpiresAt(fosite.AccessToken, time.Now().UTC().Add(atLifespan).Round(time.Second))
	rtLifespan := fosite.GetEffectiveLifespan(ar.GetClient(), fosite.GrantType(GrantTypeDeviceCode), fosite.RefreshToken, h.Config.GetRefreshTokenLifespan(ctx))
	if rtLifespan > -1 {
		session.SetExpiresAt(fosite.RefreshToken, time.Now().UTC().Add(rtLifespan).Round(time.Second))
	}
	return nil
}

func denialHint(reason string) string {
	switch reason {
	case "contested":
		return "A second device scanned this QR code, so it was closed for safety; start a new sign-in."
	case "wrong_match":
		return "The wrong number was picked on the phone, so the sign-in was refused."
	default:
		return "The person refused the sign-in on the phone."
	}
}

// PopulateTokenEndpointResponse delivers the tokens of an approved session: it
// consumes the QR session, builds the token session's claims (reading the account)
// and stores the access token, the refresh token (with
// offline_access) and issues the ID token (with openid), in one transaction.
func (h *Handler) PopulateTokenEndpointResponse(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder) (err error) {
	if !h.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	qrID := ar.GetID()
	ctx, err = fositestorage.MaybeBeginTx(ctx, h.Transactor)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	committed := false
	defer func() {
		if !committed {
			_ = fositestorage.MaybeRollbackTx(ctx, h.Transactor)
		}
	}()
	consumed, err := h.Service.Consume(ctx, qrID)
	switch {
	case errors.Is(err, ErrAlreadyUsed):
		return fosite.ErrInvalidGrant.WithHint("The tokens of this device_code were already delivered.")
	case errors.Is(err, ErrExpired):
		return ErrExpiredToken
	case err != nil:
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	session, ok := ar.GetSession().(*openid.DefaultSession)
	if !ok {
		return fosite.ErrServerError.WithDebug("the device_code grant needs an openid.DefaultSession")
	}
	if err := h.BuildSession(ctx, consumed, session); err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	atLifespan := fosite.GetEffectiveLifespan(ar.GetClient(), fosite.GrantType(GrantTypeDeviceCode), fosite.AccessToken, h.Config.GetAccessTokenLifespan(ctx))
	accessSignature, err := h.IssueAccessToken(ctx, atLifespan, ar, resp)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	if scopes := h.Config.GetRefreshTokenScopes(ctx); len(scopes) == 0 || ar.GetGrantedScopes().HasOneOf(scopes...) {
		token, signature, err := h.RefreshTokenStrategy.GenerateRefreshToken(ctx, ar)
		if err != nil {
			return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
		if err := h.RefreshTokenStorage.CreateRefreshTokenSession(ctx, signature, accessSignature, ar.Sanitize([]string{})); err != nil {
			return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
		resp.SetExtra("refresh_token", token)
	}
	if ar.GetGrantedScopes().Has("openid") {
		if err := h.IDTokenHelper.IssueExplicitIDToken(ctx, h.Config.GetIDTokenLifespan(ctx), ar, resp); err != nil {
			return err
		}
	}
	if err := fositestorage.MaybeCommitTx(ctx, h.Transactor); err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	committed = true
	h.Service.hub.Publish(consumed)
	return nil
}

// Factory returns the compose.Factory (fosite's registration shape) that builds the
// device_code handler on fosite's own strategies and storage. transactor is the
// store fosite is composed with.
func Factory(svc *Service, transactor fositestorage.Transactional, build SessionBuilder) func(config fosite.Configurator, storage interface{}, strategy interface{}) interface{} {
	return func(config fosite.Configurator, store interface{}, strategy interface{}) interface{} {
		return &Handler{
			Service:    svc,
			Transactor: transactor,
			HandleHelper: &oauth2.HandleHelper{
				AccessTokenStrategy: strategy.(oauth2.AccessTokenStrategy),
				AccessTokenStorage:  store.(oauth2.AccessTokenStorage),
				Config:              config,
			},
			RefreshTokenStrategy: strategy.(oauth2.RefreshTokenStrategy),
			RefreshTokenStorage:  store.(oauth2.RefreshTokenStorage),
			IDTokenHelper:        &openid.IDTokenHandleHelper{IDTokenStrategy: strategy.(openid.OpenIDConnectTokenStrategy)},
			BuildSession:         build,
			Config:               config,
		}
	}
}
