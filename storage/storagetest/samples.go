package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/qrid/qrid/storage"
)

// t0 is the reference instant of the samples. It is given in a zone other than UTC
// and with microseconds, so a backend that drops the zone or the fraction is caught.
var t0 = time.Date(2031, time.March, 4, 5, 6, 7, 891234000, time.FixedZone("UTC+2", 2*60*60))

// opaque returns bytes that are not valid UTF-8 and contain a NUL, as digests,
// sealed keys and serialised requests may.
func opaque(label string) []byte {
	return append([]byte{0x00, 0xff, 0xfe, 0x80}, label...)
}

// sampleClient returns a confidential client with every field set.
func sampleClient(id string) storage.Client {
	return storage.Client{
		ID:                       id,
		SecretDigest:             opaque("secret-" + id),
		Name:                     "Client « " + id + " »",
		RedirectURIs:             []string{"https://" + id + ".example/callback", "http://127.0.0.1:8400/cb"},
		PostLogoutRedirectURIs:   []string{"https://" + id + ".example/bye"},
		GrantTypes:               []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"},
		ResponseTypes:            []string{"code"},
		Scopes:                   []string{"openid", "profile", "email", "offline_access"},
		TokenEndpointAuthMethod:  "client_secret_basic",
		LogoURI:                  "https://" + id + ".example/logo.png",
		ClientURI:                "https://" + id + ".example/",
		IDTokenSignedResponseAlg: "RS256",
		FirstParty:               true,
		CreatedAt:                t0,
		UpdatedAt:                t0.Add(time.Minute),
	}
}

// sampleUser returns a user with every field set; the username is "user-" + id.
func sampleUser(id string) storage.User {
	return storage.User{
		ID:           id,
		Username:     "user-" + id,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		Name:         "Zoë " + id,
		Email:        id + "@example.com",
		CreatedAt:    t0,
	}
}

// sampleSigningKey returns an active key.
func sampleSigningKey(id, algorithm string, createdAt time.Time) storage.SigningKey {
	return storage.SigningKey{
		ID:               id,
		Algorithm:        algorithm,
		PrivateKeySealed: opaque("sealed-" + id),
		PublicKeyJWK:     []byte(`{"kty":"EC","crv":"P-256","kid":"` + id + `","x":"AQ","y":"Ag"}`),
		CreatedAt:        createdAt,
	}
}

// sampleTokenSession returns an active session of kind.
func sampleTokenSession(kind storage.TokenKind, signature, requestID, clientID, subject string) storage.TokenSession {
	return storage.TokenSession{
		Kind:      kind,
		Signature: signature,
		RequestID: requestID,
		ClientID:  clientID,
		Subject:   subject,
		Active:    true,
		Request:   opaque("request-" + requestID),
		CreatedAt: t0,
		ExpiresAt: t0.Add(time.Hour),
	}
}

func sampleConsent(subject, clientID string, scopes ...string) storage.Consent {
	return storage.Consent{Subject: subject, ClientID: clientID, Scopes: scopes, GrantedAt: t0}
}

func sampleBrowserSession(id, subject string) storage.BrowserSession {
	return storage.BrowserSession{
		ID:        id,
		Subject:   subject,
		AuthTime:  t0.Add(-time.Second),
		AMR:       []string{"qr", "mfa"},
		CreatedAt: t0,
		ExpiresAt: t0.Add(24 * time.Hour),
	}
}

func mustCreateClient(t testing.TB, s storage.Storage, c storage.Client) {
	t.Helper()
	must(t, s.CreateClient(t.Context(), c), "CreateClient "+c.ID)
}

func mustCreateUser(t testing.TB, s storage.Storage, u storage.User) {
	t.Helper()
	must(t, s.CreateUser(t.Context(), u), "CreateUser "+u.ID)
}

func mustCreateTokenSession(t testing.TB, s storage.Storage, ts storage.TokenSession) {
	t.Helper()
	must(t, s.CreateTokenSession(t.Context(), ts), "CreateTokenSession "+string(ts.Kind)+" "+ts.Signature)
}

// mustCreateOwners creates the clients and users that sessions and consents refer
// to.
func mustCreateOwners(t testing.TB, s storage.Storage, clientIDs, userIDs []string) {
	t.Helper()
	for _, id := range clientIDs {
		mustCreateClient(t, s, sampleClient(id))
	}
	for _, id := range userIDs {
		mustCreateUser(t, s, sampleUser(id))
	}
}

// assertTokenSessionGone fails t unless the session no longer exists.
func assertTokenSessionGone(t testing.TB, s storage.Storage, kind storage.TokenKind, signature string) {
	t.Helper()
	if _, err := s.GetTokenSession(t.Context(), kind, signature); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetTokenSession %s %s: got error %v, want ErrNotFound", kind, signature, err)
	}
}

// assertTokenSessionKept fails t unless the session still exists.
func assertTokenSessionKept(t testing.TB, s storage.Storage, kind storage.TokenKind, signature string) {
	t.Helper()
	if _, err := s.GetTokenSession(t.Context(), kind, signature); err != nil {
		t.Errorf("GetTokenSession %s %s: %v, want it kept", kind, signature, err)
	}
}
