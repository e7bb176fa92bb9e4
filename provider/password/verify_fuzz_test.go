package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// Bounds of the argon2 work FuzzVerify lets an input ask for. Verify itself trusts
// the parameters of the stored hash (they are written by Hash); an input past these
// bounds is skipped, or one fuzz input could ask for gigabytes of memory.
const (
	fuzzMaxMemoryKiB = 1 << 10
	fuzzMaxTime      = 4
	fuzzMaxThreads   = 8
	fuzzMaxKeyLen    = 1 << 10
)

// cheapPHC is a well-formed PHC string of password with small parameters.
func cheapPHC(password string, salt []byte, m, t uint32, p uint8, keyLen uint32) string {
	enc := base64.RawStdEncoding
	key := argon2.IDKey([]byte(password), salt, t, m, p, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, m, t, p, enc.EncodeToString(salt), enc.EncodeToString(key))
}

// tooCostly reports whether phc asks for more work than the fuzzer allows.
func tooCostly(phc string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	return m > fuzzMaxMemoryKiB || t > fuzzMaxTime || p > fuzzMaxThreads ||
		base64.RawStdEncoding.DecodedLen(len(parts[5])) > fuzzMaxKeyLen
}

// FuzzVerify checks arbitrary PHC strings and passwords: Verify never panics, a
// malformed hash is an error other than ErrMismatch, and a hash that accepts a
// password refuses another one.
func FuzzVerify(f *testing.F) {
	salt := []byte("0123456789abcdef")
	good := cheapPHC("pw", salt, 64, 1, 1, 32)
	for _, seed := range []string{
		good,
		cheapPHC("pw", salt, 8, 1, 1, 4),
		cheapPHC("pw", nil, 16, 2, 2, 16),
		strings.Replace(good, "v=19", "v=16", 1),
		strings.Replace(good, "argon2id", "argon2i", 1),
		strings.Replace(good, "m=64", "m=0", 1),
		strings.Replace(good, "t=1", "t=0", 1),
		strings.Replace(good, "p=1", "p=0", 1),
		strings.Replace(good, "p=1", "p=256", 1),
		strings.Replace(good, "m=64", "m=-1", 1),
		strings.Replace(good, "m=64,t=1,p=1", "m=64,t=1,p=1,x=2", 1),
		good[:strings.LastIndex(good, "$")+1],
		good + "$",
		good + "=",
		"$argon2id$v=19$m=64,t=1,p=1$$AAAA",
		"$argon2id$v=19$m=64,t=1,p=1$!!$AAAA",
		"$argon2id$$$$",
		"", "$", "plain text",
	} {
		f.Add(seed, "pw")
	}
	f.Add(good, "")
	f.Add(good, strings.Repeat("x", MaxLen+1))
	f.Fuzz(func(t *testing.T, phc, password string) {
		if tooCostly(phc) {
			t.Skip("asks for more argon2 work than the fuzzer allows")
		}
		err := Verify(phc, password)
		parts := strings.Split(phc, "$")
		wellShaped := len(parts) == 6 && parts[1] == "argon2id"
		switch {
		case err == nil:
			if !wellShaped || len(password) > MaxLen {
				t.Fatalf("Verify(%q, %q) accepted", phc, password)
			}
			if err := Verify(phc, password+"x"); !errors.Is(err, ErrMismatch) {
				t.Fatalf("Verify(%q) accepts %q and also another password: %v", phc, password, err)
			}
		case errors.Is(err, ErrMismatch):
			if !wellShaped && len(password) <= MaxLen {
				t.Fatalf("Verify(%q, %q) = ErrMismatch for a malformed hash", phc, password)
			}
		}
	})
}
