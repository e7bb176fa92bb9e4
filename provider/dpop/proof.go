package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// NewProof makes a proof for a request: method and url (a query or fragment is
// dropped), with ath when accessToken is not "", a random jti and iat now. key is
// an ECDSA P-256 key (ES256), an RSA key (RS256) or an Ed25519 key (EdDSA); its
// public key travels in the proof's jwk header.
func NewProof(key crypto.Signer, method, url, accessToken string, now time.Time) (string, error) {
	alg, err := algorithmOf(key)
	if err != nil {
		return "", err
	}
	htu, ok := NormalizeURL(url)
	if !ok {
		return "", fmt.Errorf("dpop: %q is not an absolute http(s) URL", url)
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	c := map[string]any{
		"htm": method,
		"htu": htu,
		"iat": now.Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti),
	}
	if accessToken != "" {
		c["ath"] = TokenHash(accessToken)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key},
		(&jose.SignerOptions{EmbedJWK: true}).WithType(Type))
	if err != nil {
		return "", fmt.Errorf("dpop: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("dpop: sign the proof: %w", err)
	}
	return jws.CompactSerialize()
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of pub in unpadded base64url: the
// Proof.Thumbprint of the proofs its private key signs.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("dpop: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// algorithmOf is the signature algorithm for key.
func algorithmOf(key crypto.Signer) (jose.SignatureAlgorithm, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return "", errors.New("dpop: an ECDSA key must be on P-256 (ES256)")
		}
		return jose.ES256, nil
	case *rsa.PrivateKey:
		return jose.RS256, nil
	case ed25519.PrivateKey:
		return jose.EdDSA, nil
	default:
		return "", fmt.Errorf("dpop: unsupported key type %T", key)
	}
}
