// Package password hashes and checks user passwords with argon2id (RFC 9106), stored
// in the PHC string format ($argon2id$v=19$m=...,t=...,p=...$salt$hash) so the
// parameters can be raised later without invalidating stored hashes.
//
// Passwords are checked only at sign-in (the login page and the mobile app's login),
// never on the token path.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Parameters of new hashes: RFC 9106's second recommended option, with 64 MiB.
const (
	memoryKiB   = 64 * 1024
	iterations  = 3
	parallelism = 2
	saltLen     = 16
	keyLen      = 32
	// MaxLen bounds the password length accepted, so a huge body cannot make
	// hashing expensive.
	MaxLen = 1024
)

// ErrMismatch is returned by Verify when the password does not match.
var ErrMismatch = errors.New("password: mismatch")

// Hash returns the argon2id PHC string of password.
func Hash(password string) (string, error) {
	if len(password) > MaxLen {
		return "", fmt.Errorf("password: longer than %d bytes", MaxLen)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, iterations, memoryKiB, parallelism, keyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, memoryKiB, iterations, parallelism, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// Verify checks password against a PHC string made by Hash. It returns ErrMismatch
// for a wrong password and another error for a malformed hash.
func Verify(phc, password string) error {
	if len(password) > MaxLen {
		return ErrMismatch
	}
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return errors.New("password: not an argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return errors.New("password: unsupported argon2 version")
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 {
		return errors.New("password: malformed argon2 parameters")
	}
	// A stored hash must not be able to make a sign-in arbitrarily expensive.
	if m > 1<<20 || t > 16 || p > 16 {
		return errors.New("password: argon2 parameters out of bounds")
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return errors.New("password: malformed salt")
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return errors.New("password: malformed hash")
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}
