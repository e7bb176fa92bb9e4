package qr

import (
	"crypto/rand"
	"encoding/base64"
	"math/big"
	"strings"
)

// userCodeAlphabet is RFC 8628 §6.1's base-20 alphabet: consonants only, so no
// vowels spell words and no 0/O or 1/I confusion.
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// userCodeLen is 8 characters: 20^8 ≈ 2^34.6 codes, enough for a short-lived,
// rate-limited code (RFC 8628 §5.1).
const userCodeLen = 8

// qrIDLen is the length of a qr_id: 16 random bytes in unpadded base64url.
const qrIDLen = 22

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return b
}

// newQRID returns a 128-bit random qr_id.
func newQRID() string { return base64.RawURLEncoding.EncodeToString(randomBytes(16)) }

// newSecret returns a 256-bit random secret (device code, confirm token).
func newSecret() string { return base64.RawURLEncoding.EncodeToString(randomBytes(32)) }

// newUserCode returns a user code formatted for reading, e.g. "BDFG-HJKL".
func newUserCode() string {
	var b strings.Builder
	max := big.NewInt(int64(len(userCodeAlphabet)))
	for i := range userCodeLen {
		if i == userCodeLen/2 {
			b.WriteByte('-')
		}
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err)
		}
		b.WriteByte(userCodeAlphabet[n.Int64()])
	}
	return b.String()
}

// NormalizeUserCode returns the canonical form of a typed user code (upper case,
// without dashes or spaces), or "" when it cannot be one (RFC 8628 §6.1: be lenient
// with punctuation and case).
func NormalizeUserCode(s string) string {
	if len(s) > 32 {
		return ""
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ':
			continue
		case strings.ContainsRune(userCodeAlphabet, r):
			b.WriteRune(r)
		default:
			return ""
		}
	}
	if b.Len() != userCodeLen {
		return ""
	}
	return b.String()
}

// newMatch returns a two-digit match code and three distinct choices containing it,
// in random order.
func newMatch() (string, []string) {
	pick := func() int {
		n, err := rand.Int(rand.Reader, big.NewInt(90))
		if err != nil {
			panic(err)
		}
		return int(n.Int64()) + 10
	}
	code := pick()
	seen := map[int]bool{code: true}
	choices := []int{code}
	for len(choices) < 3 {
		if c := pick(); !seen[c] {
			seen[c] = true
			choices = append(choices, c)
		}
	}
	// Shuffle (Fisher–Yates) so the position gives nothing away.
	for i := len(choices) - 1; i > 0; i-- {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			panic(err)
		}
		j := int(n.Int64())
		choices[i], choices[j] = choices[j], choices[i]
	}
	out := make([]string, 3)
	for i, c := range choices {
		out[i] = itoa2(c)
	}
	return itoa2(code), out
}

func itoa2(n int) string { return string([]byte{byte('0' + n/10), byte('0' + n%10)}) }

// ParseQRContent extracts the qr_id from what a phone scanned: the
// verification_uri_complete ({issuer}/q/{qr_id}) of this issuer, or a bare qr_id.
// It returns "" for anything else.
func ParseQRContent(issuer, content string) string {
	content = strings.TrimSpace(content)
	id := content
	if rest, ok := strings.CutPrefix(content, issuer+"/q/"); ok {
		id = rest
	} else if strings.Contains(content, "/") {
		return ""
	}
	if len(id) != qrIDLen {
		return ""
	}
	if _, err := base64.RawURLEncoding.DecodeString(id); err != nil {
		return ""
	}
	return id
}
