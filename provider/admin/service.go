package admin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/qrid/qrid/provider/audit"
	"github.com/qrid/qrid/provider/digest"
	"github.com/qrid/qrid/storage"
)

// KeyManager lists and rotates signing keys; *keys.Manager satisfies it.
type KeyManager interface {
	List(ctx context.Context) ([]storage.SigningKey, error)
	// Rotate replaces the active key of alg, or of every algorithm when alg is "".
	Rotate(ctx context.Context, alg string) error
}

// Service is the admin logic shared by the HTTP API and `qrid serve --dev`.
type Service struct {
	Store storage.Storage
	Keys  KeyManager
	// ClientSecrets digests client secrets: Client.SecretDigest is
	// ClientSecrets.Sum([]byte(secret)).
	ClientSecrets *digest.Keyed
	// Dev allows http:// redirect, logo and client URIs on any host.
	Dev bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Audit records the changes made (clients, users, keys, device revocations) in
	// the audit trail; nil records nothing.
	Audit *audit.Recorder
	// OnClientChanged, when set, is called with a client's ID after the service has
	// asked the store to create, update, delete or give a new secret to it, also
	// when the store reported an error (a change whose answer was lost may still
	// have been made). The provider uses it to drop the client from its cache.
	OnClientChanged func(id string)
}

// clientChanged calls OnClientChanged, when set.
func (s *Service) clientChanged(id string) {
	if s.OnClientChanged != nil {
		s.OnClientChanged(id)
	}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// randomBase64 returns n random bytes in unpadded base64url.
func randomBase64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// digestSecret returns the stored form of a client secret.
func (s *Service) digestSecret(secret string) ([]byte, error) {
	if s.ClientSecrets == nil {
		return nil, newError(http.StatusServiceUnavailable, CodeUnavailable, "Client secret digests are not configured.")
	}
	return s.ClientSecrets.Sum([]byte(secret)), nil
}

// KeyInfo is the public view of a signing key.
type KeyInfo struct {
	KID       string    `json:"kid"`
	Alg       string    `json:"alg"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
	RetiredAt time.Time `json:"retired_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// signingAlgs are the algorithms qrid signs ID tokens with (DESIGN §6).
var signingAlgs = []string{"ES256", "RS256"}

func (s *Service) keyManager() (KeyManager, error) {
	if s.Keys == nil {
		return nil, newError(http.StatusServiceUnavailable, CodeUnavailable, "Signing key management is not configured.")
	}
	return s.Keys, nil
}

// ListKeys returns every stored signing key, as the key manager orders them.
func (s *Service) ListKeys(ctx context.Context) ([]KeyInfo, error) {
	km, err := s.keyManager()
	if err != nil {
		return nil, err
	}
	keys, err := km.List(ctx)
	if err != nil {
		return nil, storeError(err, "signing keys", "list")
	}
	out := make([]KeyInfo, 0, len(keys))
	for _, k := range keys {
		out = append(out, KeyInfo{
			KID:       k.ID,
			Alg:       k.Algorithm,
			Active:    k.Active(),
			CreatedAt: k.CreatedAt.UTC(),
			RetiredAt: utcOrZero(k.RetiredAt),
			ExpiresAt: utcOrZero(k.ExpiresAt),
		})
	}
	return out, nil
}

// RotateKeys rotates the active key of alg ("ES256" or "RS256"), or of every
// algorithm when alg is "", and returns the keys afterwards.
func (s *Service) RotateKeys(ctx context.Context, alg string) ([]KeyInfo, error) {
	if alg != "" && !slices.Contains(signingAlgs, alg) {
		return nil, invalidRequest("alg %q is not supported; use ES256 or RS256, or leave it out to rotate every key.", alg)
	}
	km, err := s.keyManager()
	if err != nil {
		return nil, err
	}
	if err := km.Rotate(ctx, alg); err != nil {
		return nil, storeError(err, "signing key", "rotate")
	}
	rotated := alg
	if rotated == "" {
		rotated = strings.Join(signingAlgs, ",")
	}
	s.Audit.Record(ctx, storage.AuditEvent{Type: audit.KeysRotated, Detail: "alg=" + rotated})
	return s.ListKeys(ctx)
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}
