package keys

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/qrid/qrid/storage"
)

// MinSecretLen is the shortest system secret accepted (DESIGN §3a).
const MinSecretLen = 32

// sealLabel is the HKDF info under which the key-sealing key is derived from the
// system secret.
const sealLabel = "qrid signing keys"

// rsaBits is the size of generated RS256 keys.
const rsaBits = 2048

// UnsealError reports a stored private key that does not open under this node's
// system secret: the secret changed, or the sealed bytes were altered or moved to
// another row.
type UnsealError struct {
	KeyID string
	Err   error
}

func (e *UnsealError) Error() string {
	return "keys: signing key " + e.KeyID +
		" cannot be unsealed: is the system secret the same as when it was created?"
}

func (e *UnsealError) Unwrap() error { return e.Err }

// sealer seals and opens PKCS#8 private keys with AES-256-GCM.
type sealer struct {
	aead cipher.AEAD
}

func newSealer(systemSecret []byte) (*sealer, error) {
	if len(systemSecret) < MinSecretLen {
		return nil, fmt.Errorf("keys: the system secret must be at least %d bytes", MinSecretLen)
	}
	key, err := hkdf.Key(sha256.New, systemSecret, nil, sealLabel, 32)
	if err != nil {
		return nil, fmt.Errorf("keys: deriving the sealing key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	// NewGCMWithRandomNonce draws a fresh 96-bit nonce for every Seal and prepends
	// it to the ciphertext; Open reads it back from there.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// additionalData binds a sealed key to its row: the same bytes under another kid or
// algorithm fail authentication.
func additionalData(kid, alg string) []byte {
	return []byte("qrid signing key v1\x00" + alg + "\x00" + kid)
}

func (s *sealer) seal(kid, alg string, der []byte) []byte {
	return s.aead.Seal(nil, nil, der, additionalData(kid, alg))
}

func (s *sealer) open(kid, alg string, sealed []byte) ([]byte, error) {
	if len(sealed) < s.aead.Overhead() {
		return nil, errors.New("sealed key too short")
	}
	return s.aead.Open(nil, nil, sealed, additionalData(kid, alg))
}

// generated is a freshly generated key together with its storage row.
type generated struct {
	key Key
	row storage.SigningKey
}

// generate creates a key for alg and its row, sealed, ready for the store.
func (s *sealer) generate(alg string) (generated, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	default:
		return generated{}, unsupported(alg)
	}
	if err != nil {
		return generated{}, fmt.Errorf("keys: generating a %s key: %w", alg, err)
	}
	pub := jose.JSONWebKey{Key: priv.Public(), Algorithm: alg, Use: "sig"}
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return generated{}, fmt.Errorf("keys: computing the kid: %w", err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	pubJSON, err := json.Marshal(pub)
	if err != nil {
		return generated{}, fmt.Errorf("keys: encoding the public key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return generated{}, fmt.Errorf("keys: encoding the private key: %w", err)
	}
	sealed := s.seal(pub.KeyID, alg, der)
	clear(der)
	return generated{
		key: Key{ID: pub.KeyID, Algorithm: alg, Private: priv},
		row: storage.SigningKey{
			ID:               pub.KeyID,
			Algorithm:        alg,
			PrivateKeySealed: sealed,
			PublicKeyJWK:     pubJSON,
		},
	}, nil
}

// publicKeyEqualer is implemented by *ecdsa.PublicKey and *rsa.PublicKey.
type publicKeyEqualer interface {
	Equal(x crypto.PublicKey) bool
}

// unseal opens the row's private key and checks that it is a key of the row's
// algorithm whose public half is pub (the row's published key).
func (s *sealer) unseal(row storage.SigningKey, pub crypto.PublicKey) (crypto.Signer, error) {
	der, err := s.open(row.ID, row.Algorithm, row.PrivateKeySealed)
	if err != nil {
		return nil, &UnsealError{KeyID: row.ID, Err: err}
	}
	defer clear(der)
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("keys: signing key %s is corrupted: %w", row.ID, err)
	}
	var priv crypto.Signer
	switch k := parsed.(type) {
	case *ecdsa.PrivateKey:
		if row.Algorithm == ES256 && k.Curve == elliptic.P256() {
			priv = k
		}
	case *rsa.PrivateKey:
		if row.Algorithm == RS256 && k.N.BitLen() >= rsaBits {
			priv = k
		}
	}
	if priv == nil {
		return nil, fmt.Errorf("keys: signing key %s holds a %T, not a %s key", row.ID, parsed, row.Algorithm)
	}
	if eq, ok := priv.Public().(publicKeyEqualer); !ok || !eq.Equal(pub) {
		return nil, fmt.Errorf("keys: signing key %s does not match its published public key", row.ID)
	}
	return priv, nil
}

// parsePublic reads a row's public JWK and checks it against the row: a public key
// (never private material) of the row's algorithm and curve, under the row's kid.
// The result is what the JWKS publishes.
func parsePublic(row storage.SigningKey) (jose.JSONWebKey, error) {
	var jwk jose.JSONWebKey
	if err := json.Unmarshal(row.PublicKeyJWK, &jwk); err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("keys: signing key %s has an unreadable public JWK: %w", row.ID, err)
	}
	if !jwk.IsPublic() {
		return jose.JSONWebKey{}, fmt.Errorf("keys: signing key %s: the stored JWK is not a public key", row.ID)
	}
	ok := false
	switch k := jwk.Key.(type) {
	case *ecdsa.PublicKey:
		ok = row.Algorithm == ES256 && k.Curve == elliptic.P256()
	case *rsa.PublicKey:
		ok = row.Algorithm == RS256 && k.N.BitLen() >= rsaBits
	}
	if !ok {
		return jose.JSONWebKey{}, fmt.Errorf("keys: signing key %s: the stored JWK is a %T, not a %s key", row.ID, jwk.Key, row.Algorithm)
	}
	if jwk.KeyID != row.ID || (jwk.Algorithm != "" && jwk.Algorithm != row.Algorithm) {
		return jose.JSONWebKey{}, fmt.Errorf("keys: signing key %s: the stored JWK names kid %q, alg %q", row.ID, jwk.KeyID, jwk.Algorithm)
	}
	return jose.JSONWebKey{Key: jwk.Key, KeyID: row.ID, Algorithm: row.Algorithm, Use: "sig"}, nil
}
