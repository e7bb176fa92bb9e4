package provider

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/qrid/qrid/provider/fositestore"
	"github.com/qrid/qrid/provider/keys"
)

// Token lifetimes.
const (
	accessTokenLifespan   = time.Hour
	refreshTokenLifespan  = 30 * 24 * time.Hour
	authorizeCodeLifespan = 10 * time.Minute
	idTokenLifespan       = time.Hour
	// keyRetention keeps a retired signing key in the JWKS until every ID token it
	// signed has expired, with a margin for clock skew.
	keyRetention = idTokenLifespan + 10*time.Minute
)

// Scopes qrid knows. openid is required for an ID token; offline_access is what
// makes fosite issue a refresh token.
var supportedScopes = []string{"openid", "profile", "email", "offline_access"}

// newSession returns the empty session every fosite request starts with.
func newSession() *openid.DefaultSession {
	return &openid.DefaultSession{
		Claims:  &jwt.IDTokenClaims{Extra: map[string]interface{}{}},
		Headers: &jwt.Headers{Extra: map[string]interface{}{}},
	}
}

// composeOAuth2 builds the fosite provider: authorization code with PKCE (S256 only,
// required of public clients), refresh tokens with rotation, client credentials,
// OpenID Connect, introspection and revocation.
func composeOAuth2(cfg Config, store *fositestore.Store, signer *keySigner, hasher fosite.Hasher, extra ...compose.Factory) (fosite.OAuth2Provider, error) {
	globalSecret, err := hkdf.Key(sha256.New, cfg.Secret, nil, "qrid fosite hmac", 32)
	if err != nil {
		return nil, err
	}
	fc := &fosite.Config{
		AccessTokenLifespan:            accessTokenLifespan,
		RefreshTokenLifespan:           refreshTokenLifespan,
		AuthorizeCodeLifespan:          authorizeCodeLifespan,
		IDTokenLifespan:                idTokenLifespan,
		IDTokenIssuer:                  cfg.Issuer,
		AccessTokenIssuer:              cfg.Issuer,
		TokenURL:                       cfg.Issuer + "/oauth2/token",
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:       fosite.DefaultAudienceMatchingStrategy,
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		RefreshTokenScopes:             []string{"offline_access"},
		MinParameterEntropy:            fosite.MinParameterEntropy,
		SendDebugMessagesToClients:     false,
		ClientSecretsHasher:            hasher,
		GlobalSecret:                   globalSecret,
		RedirectSecureChecker: func(_ context.Context, u *url.URL) bool {
			return cfg.Dev || fosite.IsRedirectURISecureStrict(context.Background(), u)
		},
	}
	strategy := &compose.CommonStrategy{
		CoreStrategy:               compose.NewOAuth2HMACStrategy(fc),
		OpenIDConnectTokenStrategy: &idTokenStrategy{inner: compose.NewOpenIDConnectStrategy(signer.defaultKey, fc), signer: signer},
		Signer:                     signer,
	}
	factories := append([]compose.Factory{
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2ClientCredentialsGrantFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OpenIDConnectExplicitFactory,
		compose.OpenIDConnectRefreshFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
		compose.OAuth2PKCEFactory,
	}, extra...)
	return compose.Compose(fc, store, strategy, factories...), nil
}

// signingKeyContextKey carries the key chosen for one ID token from idTokenStrategy
// to the signer fosite calls.
type signingKeyContextKey struct{}

// keySigner is the jwt.Signer fosite uses for ID tokens: it signs with the key
// idTokenStrategy chose for the client (ES256 unless the client registered RS256) and
// verifies qrid's own tokens (id_token_hint) against every published key by kid.
type keySigner struct {
	keys *keys.Manager
}

var _ jwt.Signer = (*keySigner)(nil)

func (s *keySigner) defaultKey(ctx context.Context) (interface{}, error) {
	if k, ok := ctx.Value(signingKeyContextKey{}).(keys.Key); ok {
		return k.Private, nil
	}
	k, err := s.keys.SigningKey(ctx, "ES256")
	if err != nil {
		return nil, err
	}
	return k.Private, nil
}

// Generate signs claims; the kid header was set by idTokenStrategy.
func (s *keySigner) Generate(ctx context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	return (&jwt.DefaultSigner{GetPrivateKey: s.defaultKey}).Generate(ctx, claims, header)
}

// Decode parses and verifies a token qrid signed, choosing the key by kid.
func (s *keySigner) Decode(ctx context.Context, token string) (*jwt.Token, error) {
	return jwt.ParseWithClaims(token, jwt.MapClaims{}, func(t *jwt.Token) (interface{}, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("token has no kid")
		}
		return s.keys.PublicKey(ctx, kid)
	})
}

// Validate verifies a token and returns its signature.
func (s *keySigner) Validate(ctx context.Context, token string) (string, error) {
	if _, err := s.Decode(ctx, token); err != nil {
		return "", err
	}
	return s.GetSignature(ctx, token)
}

// Hash returns SHA-256 of in (at_hash and c_hash use the first half).
func (s *keySigner) Hash(ctx context.Context, in []byte) ([]byte, error) {
	return (&jwt.DefaultSigner{}).Hash(ctx, in)
}

// GetSignature returns the signature part of a compact JWS.
func (s *keySigner) GetSignature(ctx context.Context, token string) (string, error) {
	return (&jwt.DefaultSigner{}).GetSignature(ctx, token)
}

// GetSigningMethodLength returns the SHA-256 digest length.
func (s *keySigner) GetSigningMethodLength(ctx context.Context) int {
	return jwt.SHA256HashSize
}

// idTokenStrategy picks the signing key for the requesting client
// (id_token_signed_response_alg) and puts its kid in the header before fosite's
// default strategy builds and signs the ID token.
type idTokenStrategy struct {
	inner  openid.OpenIDConnectTokenStrategy
	signer *keySigner
}

func (s *idTokenStrategy) GenerateIDToken(ctx context.Context, lifespan time.Duration, requester fosite.Requester) (string, error) {
	alg := "ES256"
	if c, ok := requester.GetClient().(*fositestore.Client); ok && c.IDTokenSignedResponseAlg == "RS256" {
		alg = "RS256"
	}
	key, err := s.signer.keys.SigningKey(ctx, alg)
	if err != nil {
		return "", fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	sess, ok := requester.GetSession().(openid.Session)
	if !ok {
		return "", fosite.ErrServerError.WithDebug(fmt.Sprintf("unexpected session type %T", requester.GetSession()))
	}
	headers := sess.IDTokenHeaders()
	headers.Add("kid", key.ID)
	headers.Add("alg", alg)
	// A refreshed ID token gets a fresh expiry (OIDC Core §12.2) and the issuer
	// configured now, not the one stored with the grant.
	sess.IDTokenClaims().ExpiresAt = time.Time{}
	sess.IDTokenClaims().Issuer = ""
	return s.inner.GenerateIDToken(context.WithValue(ctx, signingKeyContextKey{}, key), lifespan, requester)
}
