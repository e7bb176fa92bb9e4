package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	// HeaderName is the request header that carries a proof (RFC 9449 §4.1).
	HeaderName = "DPoP"
	// Scheme is the Authorization scheme of a DPoP-bound token (RFC 9449 §7.1).
	Scheme = "DPoP"
	// Type is the typ header of every proof (RFC 9449 §4.2).
	Type = "dpop+jwt"
	// MaxSkew is how far a proof's iat may be from the verifier's clock, either way.
	MaxSkew = 60 * time.Second
	// MaxProofLen bounds the proofs parsed (an RSA-4096 proof is about 1.5 KiB).
	MaxProofLen = 8 << 10
	// MaxJTILen bounds the jti claim, which the caller stores.
	MaxJTILen = 256
	// minRSABits is the smallest RSA modulus accepted.
	minRSABits = 2048
)

// Algorithms are the signature algorithms a proof may use.
var Algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA}

// AlgorithmNames is Algorithms as the algs parameter of a DPoP challenge (RFC 9449
// §7.1): the names separated by spaces.
func AlgorithmNames() string {
	names := make([]string, len(Algorithms))
	for i, a := range Algorithms {
		names[i] = string(a)
	}
	return strings.Join(names, " ")
}

// Error is why a proof was refused. Its message is a sentence for the client.
type Error struct {
	Message string
}

func (e *Error) Error() string { return e.Message }

func fail(format string, args ...any) *Error {
	return &Error{Message: fmt.Sprintf(format, args...)}
}

// Request is what a proof must match.
type Request struct {
	// Method is the HTTP method of the request.
	Method string
	// URL is the request's URL as the server is known to its clients (its
	// configured issuer followed by the request path); a query or fragment is
	// ignored.
	URL string
	// AccessToken is the token presented with the request, "" when there is none
	// (the request that binds a new token).
	AccessToken string
	// Now is the verifier's clock.
	Now time.Time
}

// Proof is a verified proof.
type Proof struct {
	// Thumbprint is the RFC 7638 SHA-256 thumbprint of the proof's key, in unpadded
	// base64url (the jkt of RFC 9449 §6).
	Thumbprint string
	// JTI is the proof's unique identifier.
	JTI string
	// IssuedAt is the proof's iat.
	IssuedAt time.Time
	// Algorithm is the signature algorithm used.
	Algorithm string
}

// ReplayUntil is when the proof stops being accepted (iat + MaxSkew): until then
// its jti must be remembered to refuse a replay (RFC 9449 §11.1).
func (p Proof) ReplayUntil() time.Time { return p.IssuedAt.Add(MaxSkew) }

// claims are a proof's claims, kept raw so that their JSON types can be checked.
type claims struct {
	HTM json.RawMessage `json:"htm"`
	HTU json.RawMessage `json:"htu"`
	IAT json.RawMessage `json:"iat"`
	JTI json.RawMessage `json:"jti"`
	ATH json.RawMessage `json:"ath"`
}

// Verify checks proof against req (see the package documentation) and returns the
// proof's key thumbprint, jti and iat. Every failure is an *Error.
func Verify(proof string, req Request) (Proof, error) {
	if proof == "" {
		return Proof{}, fail("The DPoP proof is empty.")
	}
	if len(proof) > MaxProofLen {
		return Proof{}, fail("The DPoP proof is longer than %d bytes.", MaxProofLen)
	}
	jws, err := jose.ParseSignedCompact(proof, Algorithms)
	if err != nil {
		return Proof{}, fail("The DPoP proof is not a JWT signed with one of %s.", strings.Join(strings.Fields(AlgorithmNames()), ", "))
	}
	if len(jws.Signatures) != 1 {
		return Proof{}, fail("The DPoP proof must have exactly one signature.")
	}
	hdr := jws.Signatures[0].Protected
	if typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, Type) {
		return Proof{}, fail("The DPoP proof's typ header must be %q.", Type)
	}
	jwk := hdr.JSONWebKey
	if jwk == nil {
		return Proof{}, fail("The DPoP proof's header has no jwk.")
	}
	alg := jose.SignatureAlgorithm(hdr.Algorithm)
	if err := checkKey(jwk, alg); err != nil {
		return Proof{}, err
	}
	payload, err := jws.Verify(jwk.Key)
	if err != nil {
		return Proof{}, fail("The DPoP proof's signature does not verify with its jwk.")
	}
	p, err := checkClaims(payload, req)
	if err != nil {
		return Proof{}, err
	}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return Proof{}, fail("The DPoP proof's jwk has no thumbprint.")
	}
	p.Thumbprint = base64.RawURLEncoding.EncodeToString(tp)
	p.Algorithm = string(alg)
	return p, nil
}

// checkKey accepts a public key of the kind alg signs with.
func checkKey(jwk *jose.JSONWebKey, alg jose.SignatureAlgorithm) error {
	if !jwk.IsPublic() || !jwk.Valid() {
		return fail("The DPoP proof's jwk must be a public key without private parts.")
	}
	switch k := jwk.Key.(type) {
	case *ecdsa.PublicKey:
		if alg != jose.ES256 || k.Curve != elliptic.P256() {
			return fail("The DPoP proof's jwk does not fit its algorithm %s (ES256 needs a P-256 key).", alg)
		}
	case *rsa.PublicKey:
		if alg != jose.RS256 {
			return fail("The DPoP proof's jwk does not fit its algorithm %s (an RSA key needs RS256).", alg)
		}
		if k.N.BitLen() < minRSABits {
			return fail("The DPoP proof's RSA key must have at least %d bits.", minRSABits)
		}
	case ed25519.PublicKey:
		if alg != jose.EdDSA {
			return fail("The DPoP proof's jwk does not fit its algorithm %s (an Ed25519 key needs EdDSA).", alg)
		}
	default:
		return fail("The DPoP proof's jwk is not an EC P-256, RSA or Ed25519 public key.")
	}
	return nil
}

// checkClaims checks the claims against req and returns the jti and iat.
func checkClaims(payload []byte, req Request) (Proof, error) {
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Proof{}, fail("The DPoP proof's claims are not a JSON object.")
	}
	htm, ok := stringClaim(c.HTM)
	if !ok {
		return Proof{}, fail("The DPoP proof's htm claim must be a string.")
	}
	if htm != req.Method {
		return Proof{}, fail("The DPoP proof is for the method %s, not %s.", quoteShort(htm), req.Method)
	}
	htu, ok := stringClaim(c.HTU)
	if !ok {
		return Proof{}, fail("The DPoP proof's htu claim must be a string.")
	}
	want, ok := NormalizeURL(req.URL)
	if !ok {
		return Proof{}, fail("The server's URL for this request is not an absolute http(s) URL.")
	}
	if got, ok := NormalizeURL(htu); !ok || got != want {
		return Proof{}, fail("The DPoP proof's htu is not %s.", want)
	}
	iat, ok := numericDate(c.IAT)
	if !ok {
		return Proof{}, fail("The DPoP proof's iat claim must be a number of seconds since 1970.")
	}
	if d := iat.Sub(req.Now); d > MaxSkew || d < -MaxSkew {
		return Proof{}, fail("The DPoP proof's iat is more than %d seconds from the server's clock; make a fresh proof and check the device's clock.", int(MaxSkew/time.Second))
	}
	jti, ok := stringClaim(c.JTI)
	if !ok || jti == "" {
		return Proof{}, fail("The DPoP proof's jti claim must be a non-empty string.")
	}
	if len(jti) > MaxJTILen {
		return Proof{}, fail("The DPoP proof's jti must be at most %d bytes.", MaxJTILen)
	}
	if req.AccessToken != "" {
		ath, ok := stringClaim(c.ATH)
		if !ok || ath == "" {
			return Proof{}, fail("The DPoP proof has no ath claim; a proof sent with a token must carry the token's hash.")
		}
		if ath != TokenHash(req.AccessToken) {
			return Proof{}, fail("The DPoP proof's ath is not the hash of the token sent.")
		}
	}
	return Proof{JTI: jti, IssuedAt: iat}, nil
}

// stringClaim decodes a claim that must be a JSON string.
func stringClaim(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// numericDate decodes a NumericDate (RFC 7519 §2): a JSON number of seconds.
func numericDate(raw json.RawMessage) (time.Time, bool) {
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	// Bound the value so that it converts to a time without overflow.
	if err != nil || math.IsNaN(f) || math.Abs(f) > 1<<40 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// quoteShort quotes s, cut to a length fit for an error message.
func quoteShort(s string) string {
	if len(s) > 16 {
		s = s[:16] + "…"
	}
	return strconv.Quote(s)
}

// NormalizeURL returns the htu form of an absolute http(s) URL: lower-case scheme
// and host, no default port, no user info, query or fragment, "/" for an empty
// path (RFC 9449 §4.3, RFC 3986 §6.2.2–6.2.3).
func NormalizeURL(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" {
		return "", false
	}
	if scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		port = ""
	}
	hostport := host
	switch {
	case port != "":
		hostport = net.JoinHostPort(host, port)
	case strings.Contains(host, ":"):
		hostport = "[" + host + "]"
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + hostport + path, true
}

// TokenHash is the ath of a proof sent with token: the unpadded base64url SHA-256
// of its ASCII bytes (RFC 9449 §4.2).
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
