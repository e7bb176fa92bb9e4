// Package digest computes the keyed digests under which qrid stores secrets it must
// recognise but never keep: client secrets, SSO cookie values and, later, device codes
// and device tokens.
//
// A digest is HMAC-SHA256 under a key derived from the system secret (HKDF-SHA256 with
// a per-purpose label), so a database leak gives an attacker neither the secrets nor a
// way to test guesses offline. HMAC is used instead of bcrypt or argon2 because these
// secrets are 256-bit random values (nothing to brute-force) and are checked on the
// token path, where a slow hash would cap throughput (DESIGN §6).
package digest

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
)

// MinSecretLen is the shortest system secret accepted.
const MinSecretLen = 32

// Keyed computes digests for one purpose.
type Keyed struct {
	key []byte
}

// New derives the digest key for purpose from the system secret.
func New(systemSecret []byte, purpose string) (*Keyed, error) {
	if len(systemSecret) < MinSecretLen {
		return nil, errors.New("digest: the system secret must be at least 32 bytes")
	}
	key, err := hkdf.Key(sha256.New, systemSecret, nil, "qrid digest "+purpose, 32)
	if err != nil {
		return nil, err
	}
	return &Keyed{key: key}, nil
}

// Sum returns the digest of data.
func (k *Keyed) Sum(data []byte) []byte {
	m := hmac.New(sha256.New, k.key)
	m.Write(data)
	return m.Sum(nil)
}

// String returns the digest of s in unpadded base64url, for use as a lookup key.
func (k *Keyed) String(s string) string {
	return base64.RawURLEncoding.EncodeToString(k.Sum([]byte(s)))
}

// Equal reports in constant time whether digest is the digest of data.
func (k *Keyed) Equal(digest, data []byte) bool {
	return hmac.Equal(digest, k.Sum(data))
}
