// Package fositestore adapts a storage.Storage to the storage interfaces fosite's
// handlers need (clients, authorization codes, access and refresh tokens, PKCE and
// OpenID Connect requests, revocation and transactions).
//
// fosite requests are serialised to JSON (storedRequest) inside
// storage.TokenSession.Request; the client is not serialised but looked up again on
// read, so a token always meets its client's current registration. The form is stored
// as fosite sanitised it (fosite never hands the store a client secret or a password).
//
// Clients are read through Store.Clients when it is set (the node's client cache,
// package clientcache), except inside a transaction begun through BeginTX: there the
// read goes through the transaction, since a read shared with other requests could
// wait for a lock the transaction holds.
//
// Refresh token rotation follows RFC 6819 §5.2.2.3: RotateRefreshToken deactivates the
// presented refresh token in one conditional step (of two concurrent refreshes exactly
// one wins) and deletes the grant's access tokens; the inactive row stays until it
// expires so that a reuse is recognised, and fosite then revokes the whole chain
// (every refresh and access token of the grant's request ID). OnRefreshTokenReuse,
// when set, is told each time a rotated refresh token is presented: at the token
// endpoint (where fosite then revokes the chain) and also at introspection or
// revocation, since a rotated token showing up anywhere means it was copied or a
// client mishandles its tokens.
package fositestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	fositestorage "github.com/ory/fosite/storage"
	"golang.org/x/text/language"

	"github.com/qrid/qrid/provider/digest"
	"github.com/qrid/qrid/storage"
)

// Store implements fosite's storage interfaces on a storage.Storage.
type Store struct {
	store storage.Storage
	// newSession makes an empty session when fosite passes none (revocation).
	newSession func() fosite.Session
	// fallbackLifetime bounds rows whose session carries no expiry.
	fallbackLifetime time.Duration

	// OnRefreshTokenReuse, when set, is called with the grant's client, subject and
	// request ID whenever GetRefreshTokenSession finds the token rotated. It runs on
	// the request's goroutine, possibly inside its transaction, and must not block.
	// Set it before the store is used.
	OnRefreshTokenReuse func(ctx context.Context, clientID, subject, requestID string)

	// Clients, when set, is where GetClient reads clients outside transactions,
	// typically a *clientcache.Cache in front of the same store; values it returns
	// must be the caller's own. nil means the store. Set it before the store is used.
	Clients interface {
		Get(ctx context.Context, id string) (storage.Client, error)
	}
}

var (
	_ fosite.Storage                     = (*Store)(nil)
	_ oauth2.CoreStorage                 = (*Store)(nil)
	_ oauth2.TokenRevocationStorage      = (*Store)(nil)
	_ openid.OpenIDConnectRequestStorage = (*Store)(nil)
	_ pkce.PKCERequestStorage            = (*Store)(nil)
	_ fositestorage.Transactional        = (*Store)(nil)
)

// New returns the adapter. newSession must return a fresh, empty session of the type
// the provider uses everywhere.
func New(store storage.Storage, newSession func() fosite.Session, fallbackLifetime time.Duration) *Store {
	return &Store{store: store, newSession: newSession, fallbackLifetime: fallbackLifetime}
}

// Client adapts a storage.Client to fosite's client interfaces.
type Client struct {
	storage.Client
}

var (
	_ fosite.Client              = (*Client)(nil)
	_ fosite.OpenIDConnectClient = (*Client)(nil)
	_ fosite.ResponseModeClient  = (*Client)(nil)
)

// GetID returns the client ID.
func (c *Client) GetID() string { return c.ID }

// GetHashedSecret returns the keyed digest of the secret.
func (c *Client) GetHashedSecret() []byte { return c.SecretDigest }

// GetRedirectURIs returns the registered redirect URIs (matched exactly).
func (c *Client) GetRedirectURIs() []string { return c.RedirectURIs }

// GetGrantTypes returns the registered grant types.
func (c *Client) GetGrantTypes() fosite.Arguments { return c.GrantTypes }

// GetResponseTypes returns the registered response types.
func (c *Client) GetResponseTypes() fosite.Arguments { return c.ResponseTypes }

// GetScopes returns the scopes the client may ask for.
func (c *Client) GetScopes() fosite.Arguments { return c.Scopes }

// IsPublic reports whether the client has no secret (token_endpoint_auth_method none).
func (c *Client) IsPublic() bool { return c.TokenEndpointAuthMethod == "none" }

// GetAudience returns no audiences: qrid issues tokens for itself.
func (c *Client) GetAudience() fosite.Arguments { return nil }

// GetRequestURIs returns nil: request objects by reference are not supported.
func (c *Client) GetRequestURIs() []string { return nil }

// GetJSONWebKeys returns nil: private_key_jwt is not supported.
func (c *Client) GetJSONWebKeys() *jose.JSONWebKeySet { return nil }

// GetJSONWebKeysURI returns "": private_key_jwt is not supported.
func (c *Client) GetJSONWebKeysURI() string { return "" }

// GetRequestObjectSigningAlgorithm returns "none": request objects are not accepted.
func (c *Client) GetRequestObjectSigningAlgorithm() string { return "" }

// GetTokenEndpointAuthMethod returns the registered client authentication method.
func (c *Client) GetTokenEndpointAuthMethod() string {
	if c.TokenEndpointAuthMethod == "" {
		return "client_secret_basic"
	}
	return c.TokenEndpointAuthMethod
}

// GetTokenEndpointAuthSigningAlgorithm returns "": JWT client authentication is not
// supported.
func (c *Client) GetTokenEndpointAuthSigningAlgorithm() string { return "" }

// GetResponseModes allows only the query response mode (and the default, which is
// query for the code flow).
func (c *Client) GetResponseModes() []fosite.ResponseModeType {
	return []fosite.ResponseModeType{fosite.ResponseModeDefault, fosite.ResponseModeQuery}
}

// SecretHasher compares client secrets with their keyed digests (DESIGN §6: no bcrypt
// on the token path).
type SecretHasher struct{ Digest *digest.Keyed }

var _ fosite.Hasher = SecretHasher{}

// Compare returns nil when data is the secret whose digest is hash.
func (h SecretHasher) Compare(_ context.Context, hash, data []byte) error {
	if len(hash) == 0 || !h.Digest.Equal(hash, data) {
		return errors.New("client secret mismatch")
	}
	return nil
}

// Hash returns the keyed digest of data.
func (h SecretHasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	return h.Digest.Sum(data), nil
}

// GetClient implements fosite.ClientManager.
func (s *Store) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	var c storage.Client
	var err error
	if s.Clients != nil && ctx.Value(inTransaction{}) == nil {
		c, err = s.Clients.Get(ctx, id)
	} else {
		c, err = s.store.GetClient(ctx, id)
	}
	if err != nil {
		return nil, translate(err)
	}
	return &Client{Client: c}, nil
}

// ClientAssertionJWTValid implements fosite.ClientManager. JWT client authentication
// is not offered, so no assertion is ever accepted (this is never reached for the
// registered methods).
func (s *Store) ClientAssertionJWTValid(context.Context, string) error {
	return fosite.ErrJTIKnown.WithHint("JWT client assertions are not supported.")
}

// SetClientAssertionJWT implements fosite.ClientManager; see ClientAssertionJWTValid.
func (s *Store) SetClientAssertionJWT(context.Context, string, time.Time) error {
	return fosite.ErrServerError.WithHint("JWT client assertions are not supported.")
}

// storedRequest is the serialised form of a fosite request.
type storedRequest struct {
	ID                string          `json:"id"`
	RequestedAt       time.Time       `json:"requested_at"`
	ClientID          string          `json:"client_id"`
	RequestedScope    []string        `json:"requested_scope"`
	GrantedScope      []string        `json:"granted_scope"`
	Form              url.Values      `json:"form"`
	RequestedAudience []string        `json:"requested_audience"`
	GrantedAudience   []string        `json:"granted_audience"`
	Lang              string          `json:"lang,omitempty"`
	Session           json.RawMessage `json:"session"`
}

func (s *Store) create(ctx context.Context, kind storage.TokenKind, signature string, req fosite.Requester, tokenType fosite.TokenType) error {
	sess := req.GetSession()
	raw, err := json.Marshal(sess)
	if err != nil {
		return fmt.Errorf("serialise session: %w", err)
	}
	body, err := json.Marshal(storedRequest{
		ID:                req.GetID(),
		RequestedAt:       req.GetRequestedAt(),
		ClientID:          req.GetClient().GetID(),
		RequestedScope:    req.GetRequestedScopes(),
		GrantedScope:      req.GetGrantedScopes(),
		Form:              req.GetRequestForm(),
		RequestedAudience: req.GetRequestedAudience(),
		GrantedAudience:   req.GetGrantedAudience(),
		Lang:              requestLang(req),
		Session:           raw,
	})
	if err != nil {
		return fmt.Errorf("serialise request: %w", err)
	}
	now := time.Now().UTC()
	expires := time.Time{}
	if sess != nil {
		expires = sess.GetExpiresAt(tokenType)
	}
	if expires.IsZero() {
		expires = now.Add(s.fallbackLifetime)
	}
	subject := ""
	if sess != nil {
		subject = sess.GetSubject()
	}
	err = s.store.CreateTokenSession(ctx, storage.TokenSession{
		Kind:      kind,
		Signature: signature,
		RequestID: req.GetID(),
		ClientID:  req.GetClient().GetID(),
		Subject:   subject,
		Active:    true,
		Request:   body,
		CreatedAt: now,
		ExpiresAt: expires,
	})
	if errors.Is(err, storage.ErrNotFound) {
		// The client was deleted since it authenticated (on another node, whose
		// deletion this node's client cache has not heard of yet).
		return fmt.Errorf("%w: %w", fosite.ErrInvalidClient.WithHint("The client no longer exists."), err)
	}
	return translate(err)
}

// get loads a token session and rebuilds the request, hydrating session (or a new
// one). The returned bool is the session's Active flag.
func (s *Store) get(ctx context.Context, kind storage.TokenKind, signature string, session fosite.Session) (fosite.Requester, bool, error) {
	ts, err := s.store.GetTokenSession(ctx, kind, signature)
	if err != nil {
		return nil, false, translate(err)
	}
	var sr storedRequest
	if err := json.Unmarshal(ts.Request, &sr); err != nil {
		return nil, false, fmt.Errorf("stored %s request is corrupt: %w", kind, err)
	}
	client, err := s.GetClient(ctx, sr.ClientID)
	if err != nil {
		return nil, false, err
	}
	if session == nil {
		session = s.newSession()
	}
	if err := json.Unmarshal(sr.Session, session); err != nil {
		return nil, false, fmt.Errorf("stored %s session is corrupt: %w", kind, err)
	}
	lang, _ := language.Parse(sr.Lang)
	req := &fosite.Request{
		ID:                sr.ID,
		RequestedAt:       sr.RequestedAt,
		Client:            client,
		RequestedScope:    sr.RequestedScope,
		GrantedScope:      sr.GrantedScope,
		Form:              sr.Form,
		Session:           session,
		RequestedAudience: sr.RequestedAudience,
		GrantedAudience:   sr.GrantedAudience,
		Lang:              lang,
	}
	if req.Form == nil {
		req.Form = url.Values{}
	}
	return req, ts.Active, nil
}

func (s *Store) delete(ctx context.Context, kind storage.TokenKind, signature string) error {
	return translate(s.store.DeleteTokenSession(ctx, kind, signature))
}

// CreateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage.
func (s *Store) CreateAuthorizeCodeSession(ctx context.Context, code string, req fosite.Requester) error {
	return s.create(ctx, storage.KindAuthorizeCode, code, req, fosite.AuthorizeCode)
}

// GetAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage: an exchanged code
// returns its request with fosite.ErrInvalidatedAuthorizeCode, so that fosite revokes
// what the first exchange issued (RFC 6749 §4.1.2).
func (s *Store) GetAuthorizeCodeSession(ctx context.Context, code string, session fosite.Session) (fosite.Requester, error) {
	req, active, err := s.get(ctx, storage.KindAuthorizeCode, code, session)
	if err != nil {
		return nil, err
	}
	if !active {
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, nil
}

// InvalidateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage. Of two
// concurrent exchanges of one code exactly one succeeds.
func (s *Store) InvalidateAuthorizeCodeSession(ctx context.Context, code string) error {
	err := s.store.DeactivateTokenSession(ctx, storage.KindAuthorizeCode, code)
	if errors.Is(err, storage.ErrConflict) {
		return fosite.ErrInvalidatedAuthorizeCode
	}
	return translate(err)
}

// CreateAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *Store) CreateAccessTokenSession(ctx context.Context, signature string, req fosite.Requester) error {
	return s.create(ctx, storage.KindAccessToken, signature, req, fosite.AccessToken)
}

// GetAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *Store) GetAccessTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, _, err := s.get(ctx, storage.KindAccessToken, signature, session)
	return req, err
}

// DeleteAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *Store) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	return s.delete(ctx, storage.KindAccessToken, signature)
}

// CreateRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (s *Store) CreateRefreshTokenSession(ctx context.Context, signature, _ string, req fosite.Requester) error {
	return s.create(ctx, storage.KindRefreshToken, signature, req, fosite.RefreshToken)
}

// GetRefreshTokenSession implements oauth2.RefreshTokenStorage; a rotated token
// returns its request with fosite.ErrInactiveToken, which makes fosite revoke the
// chain.
func (s *Store) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, active, err := s.get(ctx, storage.KindRefreshToken, signature, session)
	if err != nil {
		return nil, err
	}
	if !active {
		if s.OnRefreshTokenReuse != nil {
			subject := ""
			if sess := req.GetSession(); sess != nil {
				subject = sess.GetSubject()
			}
			s.OnRefreshTokenReuse(ctx, req.GetClient().GetID(), subject, req.GetID())
		}
		return req, fosite.ErrInactiveToken
	}
	return req, nil
}

// DeleteRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (s *Store) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	return s.delete(ctx, storage.KindRefreshToken, signature)
}

// RotateRefreshToken implements oauth2.RefreshTokenStorage: the presented refresh
// token becomes inactive (one conditional step) and the grant's access tokens are
// deleted.
func (s *Store) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	err := s.store.DeactivateTokenSession(ctx, storage.KindRefreshToken, signature)
	if errors.Is(err, storage.ErrConflict) {
		return fosite.ErrInactiveToken
	}
	if err != nil {
		return translate(err)
	}
	return translate(s.store.DeleteTokenSessionsByRequestID(ctx, storage.KindAccessToken, requestID))
}

// RevokeRefreshToken implements oauth2.TokenRevocationStorage (RFC 7009 §2.1): every
// refresh token of the grant goes.
func (s *Store) RevokeRefreshToken(ctx context.Context, requestID string) error {
	return translate(s.store.DeleteTokenSessionsByRequestID(ctx, storage.KindRefreshToken, requestID))
}

// RevokeAccessToken implements oauth2.TokenRevocationStorage: every access token of
// the grant goes.
func (s *Store) RevokeAccessToken(ctx context.Context, requestID string) error {
	return translate(s.store.DeleteTokenSessionsByRequestID(ctx, storage.KindAccessToken, requestID))
}

// CreatePKCERequestSession implements pkce.PKCERequestStorage.
func (s *Store) CreatePKCERequestSession(ctx context.Context, signature string, req fosite.Requester) error {
	return s.create(ctx, storage.KindPKCE, signature, req, fosite.AuthorizeCode)
}

// GetPKCERequestSession implements pkce.PKCERequestStorage.
func (s *Store) GetPKCERequestSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, _, err := s.get(ctx, storage.KindPKCE, signature, session)
	return req, err
}

// DeletePKCERequestSession implements pkce.PKCERequestStorage.
func (s *Store) DeletePKCERequestSession(ctx context.Context, signature string) error {
	return s.delete(ctx, storage.KindPKCE, signature)
}

// CreateOpenIDConnectSession implements openid.OpenIDConnectRequestStorage.
func (s *Store) CreateOpenIDConnectSession(ctx context.Context, code string, req fosite.Requester) error {
	return s.create(ctx, storage.KindOpenIDConnect, code, req, fosite.AuthorizeCode)
}

// GetOpenIDConnectSession implements openid.OpenIDConnectRequestStorage.
func (s *Store) GetOpenIDConnectSession(ctx context.Context, code string, req fosite.Requester) (fosite.Requester, error) {
	var session fosite.Session
	if req != nil {
		session = req.GetSession()
	}
	stored, _, err := s.get(ctx, storage.KindOpenIDConnect, code, session)
	if errors.Is(err, fosite.ErrNotFound) {
		return nil, openid.ErrNoSessionFound
	}
	return stored, err
}

// DeleteOpenIDConnectSession implements openid.OpenIDConnectRequestStorage.
func (s *Store) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	return s.delete(ctx, storage.KindOpenIDConnect, code)
}

// inTransaction marks the contexts BeginTX returns.
type inTransaction struct{}

// BeginTX implements fosite's storage.Transactional.
func (s *Store) BeginTX(ctx context.Context) (context.Context, error) {
	txCtx, err := s.store.BeginTX(ctx)
	if err != nil {
		return txCtx, err
	}
	return context.WithValue(txCtx, inTransaction{}, true), nil
}

// Commit implements fosite's storage.Transactional.
func (s *Store) Commit(ctx context.Context) error { return s.store.Commit(ctx) }

// Rollback implements fosite's storage.Transactional.
func (s *Store) Rollback(ctx context.Context) error { return s.store.Rollback(ctx) }

// requestLang returns the request's language tag when it carries one.
func requestLang(req fosite.Requester) string {
	if g, ok := req.(fosite.G11NContext); ok {
		return g.GetLang().String()
	}
	return ""
}

// translate maps storage errors to the fosite errors its handlers test for.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("%w: %w", fosite.ErrNotFound, err)
	case errors.Is(err, storage.ErrConflict):
		return fmt.Errorf("%w: %w", fosite.ErrInvalidRequest.WithHint("The request conflicts with stored state."), err)
	default:
		return err
	}
}
