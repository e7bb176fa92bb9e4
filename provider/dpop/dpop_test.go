package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	testURL   = "https://id.example.test/api/mobile/v1/qr/scan"
	testToken = "device-token-0123456789"
)

var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// Keys are made once per test binary: RSA generation is slow.
var (
	ecKey  = sync.OnceValue(func() *ecdsa.PrivateKey { return must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)) })
	ecKey2 = sync.OnceValue(func() *ecdsa.PrivateKey { return must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)) })
	p384   = sync.OnceValue(func() *ecdsa.PrivateKey { return must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader)) })
	rsaKey = sync.OnceValue(func() *rsa.PrivateKey { return must(rsa.GenerateKey(rand.Reader, 2048)) })
	rsa1k  = sync.OnceValue(func() *rsa.PrivateKey { return must(rsa.GenerateKey(rand.Reader, 1024)) })
	edKey  = sync.OnceValue(func() ed25519.PrivateKey {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return must(k, err)
	})
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// goodClaims are claims that fit testRequest.
func goodClaims() map[string]any {
	return map[string]any{"htm": "POST", "htu": testURL, "iat": testNow.Unix(), "jti": "jti-1", "ath": TokenHash(testToken)}
}

func testRequest() Request {
	return Request{Method: "POST", URL: testURL, AccessToken: testToken, Now: testNow}
}

// publicJWK is the JSON of key's public JWK.
func publicJWK(key crypto.Signer) map[string]any {
	data := must(json.Marshal(jose.JSONWebKey{Key: key.Public()}))
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return m
}

func goodHeader(key crypto.Signer) map[string]any {
	return map[string]any{"typ": Type, "alg": "ES256", "jwk": publicJWK(key)}
}

// rawES256 signs header and claims (each a JSON value or a map) with key as ES256,
// without checking what they say: it makes the proofs a careful signer would not.
func rawES256(key *ecdsa.PrivateKey, header, claims any) string {
	enc := func(v any) string {
		if s, ok := v.(string); ok {
			return base64.RawURLEncoding.EncodeToString([]byte(s))
		}
		return base64.RawURLEncoding.EncodeToString(must(json.Marshal(v)))
	}
	input := enc(header) + "." + enc(claims)
	sum := sha256.Sum256([]byte(input))
	r, s := must2(ecdsa.Sign(rand.Reader, key, sum[:]))
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}

// with returns m with the key set to v, or removed when v is nil.
func with(m map[string]any, key string, v any) map[string]any {
	out := map[string]any{}
	for k, x := range m {
		out[k] = x
	}
	if v == nil {
		delete(out, key)
	} else {
		out[key] = v
	}
	return out
}

func TestVerify(t *testing.T) {
	t.Parallel()
	ec := ecKey()
	privateJWK := must(json.Marshal(jose.JSONWebKey{Key: ec}))
	var privateJWKMap map[string]any
	_ = json.Unmarshal(privateJWK, &privateJWKMap)

	tests := []struct {
		name string
		// proof makes the proof; req changes the request (nil: testRequest).
		proof   func(t *testing.T) string
		req     func(r *Request)
		wantErr string // a part of the message; "" for success
		wantKey crypto.Signer
	}{
		{name: "ok/es256", proof: func(*testing.T) string { return rawES256(ec, goodHeader(ec), goodClaims()) }, wantKey: ec},
		{name: "ok/new_proof_es256", proof: newProof(ec, "POST", testURL, testToken), wantKey: ec},
		{name: "ok/new_proof_rs256", proof: newProof(rsaKey(), "POST", testURL, testToken), wantKey: rsaKey()},
		{name: "ok/new_proof_eddsa", proof: newProof(edKey(), "POST", testURL, testToken), wantKey: edKey()},
		{name: "ok/without_token_no_ath_needed", proof: func(*testing.T) string {
			return rawES256(ec, goodHeader(ec), with(goodClaims(), "ath", nil))
		}, req: func(r *Request) { r.AccessToken = "" }, wantKey: ec},
		{name: "ok/htu_case_default_port_query_fragment", proof: func(*testing.T) string {
			return rawES256(ec, goodHeader(ec), with(goodClaims(), "htu", "HTTPS://ID.Example.Test:443/api/mobile/v1/qr/scan?x=1#f"))
		}, wantKey: ec},
		{name: "ok/request_url_query_ignored", proof: func(*testing.T) string { return rawES256(ec, goodHeader(ec), goodClaims()) },
			req: func(r *Request) { r.URL += "?a=b" }, wantKey: ec},
		{name: "ok/iat_60s_old", proof: func(*testing.T) string {
			return rawES256(ec, goodHeader(ec), with(goodClaims(), "iat", testNow.Add(-MaxSkew).Unix()))
		}, wantKey: ec},
		{name: "ok/iat_60s_ahead", proof: func(*testing.T) string {
			return rawES256(ec, goodHeader(ec), with(goodClaims(), "iat", testNow.Add(MaxSkew).Unix()))
		}, wantKey: ec},
		{name: "ok/typ_case_insensitive", proof: func(*testing.T) string {
			return rawES256(ec, with(goodHeader(ec), "typ", "DPoP+JWT"), goodClaims())
		}, wantKey: ec},

		{name: "fail/empty", proof: func(*testing.T) string { return "" }, wantErr: "empty"},
		{name: "fail/too_long", proof: func(*testing.T) string { return strings.Repeat("a", MaxProofLen+1) }, wantErr: "longer"},
		{name: "fail/not_a_jwt", proof: func(*testing.T) string { return "not.a.jwt" }, wantErr: "not a JWT"},
		{name: "fail/json_serialization", proof: func(*testing.T) string {
			parts := strings.Split(rawES256(ec, goodHeader(ec), goodClaims()), ".")
			return `{"protected":"` + parts[0] + `","payload":"` + parts[1] + `","signature":"` + parts[2] + `"}`
		}, wantErr: "not a JWT"},
		{name: "fail/alg_none", proof: func(*testing.T) string {
			return base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"dpop+jwt","alg":"none"}`)) + "." +
				base64.RawURLEncoding.EncodeToString(must(json.Marshal(goodClaims()))) + "."
		}, wantErr: "not a JWT"},
		{name: "fail/alg_hs256", proof: func(*testing.T) string {
			s := must(jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(strings.Repeat("k", 32))},
				(&jose.SignerOptions{}).WithType(Type)))
			return must(must(s.Sign(must(json.Marshal(goodClaims())))).CompactSerialize())
		}, wantErr: "not a JWT"},
		{name: "fail/alg_es384_not_allowed", proof: func(*testing.T) string {
			return must(proofWith(p384(), jose.ES384, goodClaims()))
		}, wantErr: "not a JWT"},
		{name: "fail/typ_missing", proof: func(*testing.T) string {
			return rawES256(ec, with(goodHeader(ec), "typ", nil), goodClaims())
		}, wantErr: "typ"},
		{name: "fail/typ_jwt", proof: func(*testing.T) string {
			return rawES256(ec, with(goodHeader(ec), "typ", "JWT"), goodClaims())
		}, wantErr: "typ"},
		{name: "fail/jwk_missing", proof: func(*testing.T) string {
			return rawES256(ec, with(goodHeader(ec), "jwk", nil), goodClaims())
		}, wantErr: "no jwk"},
		{name: "fail/jwk_private", proof: func(*testing.T) string {
			return rawES256(ec, with(goodHeader(ec), "jwk", privateJWKMap), goodClaims())
		}, wantErr: "not a JWT"},
		{name: "fail/jwk_symmetric", proof: func(*testing.T) string {
			return rawES256(ec, with(goodHeader(ec), "jwk", map[string]any{"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}), goodClaims())
		}, wantErr: "not a JWT"},
		{name: "fail/signed_by_another_key", proof: func(*testing.T) string {
			return rawES256(ecKey2(), goodHeader(ec), goodClaims())
		}, wantErr: "signature"},
		{name: "fail/jwk_kind_does_not_fit_alg", proof: func(*testing.T) string {
			return rawES256(ec, with(goodHeader(ec), "jwk", publicJWK(edKey())), goodClaims())
		}, wantErr: "does not fit"},
		{name: "fail/rsa_1024", proof: newProof(rsa1k(), "POST", testURL, testToken), wantErr: "2048"},
		{name: "fail/claims_not_object", proof: func(*testing.T) string { return rawES256(ec, goodHeader(ec), "[1,2]") }, wantErr: "JSON object"},
		{name: "fail/htm_wrong", proof: func(*testing.T) string { return rawES256(ec, goodHeader(ec), with(goodClaims(), "htm", "GET")) }, wantErr: "method"},
		{name: "fail/htm_lower_case", proof: func(*testing.T) string { return rawES256(ec, goodHeader(ec), with(goodClaims(), "htm", "post")) }, wantErr: "method"},
		{name: "fail/htm_not_string", proof: func(*testing.T) string { return rawES256(ec, goodHeader(ec), with(goodClaims(), "htm", 1)) }, wantErr: "htm"},
		{name: "fail/htm_missing", proof: func(*testing.T) string { return rawES256(ec, goodHeader(ec), with(goodClaims(), "htm", nil)) }, wantErr: "htm"},
		{name: "fail/htu_other_path", proof: func(*testing.T) string {
			return rawES256(ec, goodHeader(ec), with(goodClaims(), "htu", "https://id.example.test/api/mobile/v1/qr/confirm"))
		}, wantErr: "htu"},
		{name: "fail/htu_other_host", proof: func(*testing.T) string {
			return rawES256(ec, goodHeader(ec), with(goodClaims(), "htu", "https://evil.example.test/api/mobile/v1/qr/scan"))
		}, wantErr: "htu"},
		{name: "fail/htu_http_instead_of_https", proof: func(*testing.T) string {
			return rawES256(ec, goodHeader(ec), with(goodClaims(), "htu", "http://id.example.test/api/mobile/v1/qr/scan"))
		}, wantErr: "htu"},
		{name: "fail/htu_other_port", proof: func(*testing.T) string {
			return rawES256(ec, goodHeader(ec), with(goodClaims(), "htu", "https://id.example.test:8443/api/mobile/v1/qr/scan"))
		}, wantErr: "htu"},
		{name: "fail/htu_relative", proof: func(*testing.T) string {
			return rawES256(ec, goodHeader(ec), with(goodClaims(), "htu", "/api/mobile/v1/qr/scan"))
		}, wantErr: "htu"},
		{name: "fail/iat_stale", proof: func(*testing.T) string {
			return rawES256(ec, goodHeader(ec), with(goodClaims(), "iat", testNow.Add(-MaxSkew-time.Second).Unix()))
		}, wantErr: "iat"},
		{name: "fail/iat_future", proof: func(*testing.T) string {
			return rawES256(ec, goodHeader(ec), with(goodClaims(), "iat", testNow.Add(MaxSkew+time.Second).Unix()))
		}, wantErr: "iat"},
		{name: "fail/iat_string", proof: func(*testing.T) string {
			return rawES256(ec, goodHeader(ec), with(goodClaims(), "iat", "1893553445"))
		}, wantErr: "iat"},
		{name: "fail/iat_missing", proof: func(*testing.T) string { return rawES256(ec, goodHeader(ec), with(goodClaims(), "iat", nil)) }, wantErr: "iat"},
		{name: "fail/jti_missing", proof: func(*testing.T) string { return rawES256(ec, goodHeader(ec), with(goodClaims(), "jti", nil)) }, wantErr: "jti"},
		{name: "fail/jti_empty", proof: func(*testing.T) string { return rawES256(ec, goodHeader(ec), with(goodClaims(), "jti", "")) }, wantErr: "jti"},
		{name: "fail/jti_too_long", proof: func(*testing.T) string {
			return rawES256(ec, goodHeader(ec), with(goodClaims(), "jti", strings.Repeat("j", MaxJTILen+1)))
		}, wantErr: "jti"},
		{name: "fail/ath_missing", proof: func(*testing.T) string { return rawES256(ec, goodHeader(ec), with(goodClaims(), "ath", nil)) }, wantErr: "ath"},
		{name: "fail/ath_of_another_token", proof: func(*testing.T) string {
			return rawES256(ec, goodHeader(ec), with(goodClaims(), "ath", TokenHash("another token")))
		}, wantErr: "ath"},
		{name: "fail/ath_padded", proof: func(*testing.T) string {
			return rawES256(ec, goodHeader(ec), with(goodClaims(), "ath", TokenHash(testToken)+"="))
		}, wantErr: "ath"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := testRequest()
			if tt.req != nil {
				tt.req(&req)
			}
			got, err := Verify(tt.proof(t), req)
			if tt.wantErr != "" {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("Verify = %+v, %v; want an *Error mentioning %q", got, err, tt.wantErr)
				}
				if !strings.Contains(e.Message, tt.wantErr) {
					t.Fatalf("error %q does not mention %q", e.Message, tt.wantErr)
				}
				if got != (Proof{}) {
					t.Errorf("a refused proof returned %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want, err := Thumbprint(tt.wantKey.Public())
			if err != nil {
				t.Fatal(err)
			}
			if got.Thumbprint != want || got.JTI == "" || got.IssuedAt.IsZero() {
				t.Errorf("Verify = %+v, want thumbprint %s", got, want)
			}
			if !got.ReplayUntil().Equal(got.IssuedAt.Add(MaxSkew)) {
				t.Errorf("ReplayUntil %v", got.ReplayUntil())
			}
		})
	}
}

// newProof is a proof case made by NewProof at testNow.
func newProof(key crypto.Signer, method, url, token string) func(t *testing.T) string {
	return func(t *testing.T) string {
		t.Helper()
		p, err := NewProof(key, method, url, token, testNow)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
}

// proofWith signs claims with go-jose as alg, the public key embedded.
func proofWith(key crypto.Signer, alg jose.SignatureAlgorithm, claims map[string]any) (string, error) {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{EmbedJWK: true}).WithType(Type))
	if err != nil {
		return "", err
	}
	jws, err := s.Sign(must(json.Marshal(claims)))
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

func TestNewProofFields(t *testing.T) {
	t.Parallel()
	a, err := NewProof(ecKey(), "GET", "https://id.example.test/api/mobile/v1/devices?x=1#y", "", testNow)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewProof(ecKey(), "GET", "https://id.example.test/api/mobile/v1/devices", "", testNow)
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Method: "GET", URL: "https://id.example.test/api/mobile/v1/devices", Now: testNow}
	pa, err := Verify(a, req)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := Verify(b, req)
	if err != nil {
		t.Fatal(err)
	}
	if pa.JTI == pb.JTI {
		t.Error("two proofs share a jti")
	}
	if pa.Thumbprint != pb.Thumbprint || pa.Algorithm != "ES256" {
		t.Errorf("proofs %+v and %+v", pa, pb)
	}
	payload := must(base64.RawURLEncoding.DecodeString(strings.Split(a, ".")[1]))
	var c map[string]any
	_ = json.Unmarshal(payload, &c)
	if c["htu"] != "https://id.example.test/api/mobile/v1/devices" || c["ath"] != nil {
		t.Errorf("claims %v: want htu without query and fragment, no ath", c)
	}
	if _, err := NewProof(p384(), "GET", req.URL, "", testNow); err == nil {
		t.Error("NewProof accepted a P-384 key")
	}
	if _, err := NewProof(ecKey(), "GET", "/relative", "", testNow); err == nil {
		t.Error("NewProof accepted a relative URL")
	}
}

func TestThumbprintRFC7638Example(t *testing.T) {
	t.Parallel()
	// RFC 7638 §3.1.
	const jwk = `{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON([]byte(jwk)); err != nil {
		t.Fatal(err)
	}
	got, err := Thumbprint(k.Key)
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("Thumbprint = %s, want %s", got, want)
	}
}

func TestNormalizeURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"https://id.example.test/a/b", "https://id.example.test/a/b"},
		{"HTTPS://ID.EXAMPLE.TEST:443/a/b?q#f", "https://id.example.test/a/b"},
		{"http://localhost:80", "http://localhost/"},
		{"http://localhost:8080/x", "http://localhost:8080/x"},
		{"https://[::1]:443/x", "https://[::1]/x"},
		{"https://[::1]:8443/x", "https://[::1]:8443/x"},
		{"https://id.example.test/A", "https://id.example.test/A"},
		{"ftp://id.example.test/", ""},
		{"/relative", ""},
		{"https://user@id.example.test/", ""},
		{"https:opaque", ""},
		{"", ""},
	} {
		got, ok := NormalizeURL(tt.in)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("NormalizeURL(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

func FuzzVerify(f *testing.F) {
	ec := ecKey()
	f.Add(rawES256(ec, goodHeader(ec), goodClaims()))
	f.Add(rawES256(ec, goodHeader(ec), with(goodClaims(), "iat", "x")))
	f.Add(rawES256(ec, with(goodHeader(ec), "jwk", map[string]any{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}), goodClaims()))
	f.Add(must(NewProof(edKey(), "POST", testURL, testToken, testNow)))
	f.Add("e30.e30.")
	f.Add("")
	f.Fuzz(func(t *testing.T, proof string) {
		p, err := Verify(proof, testRequest())
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Message == "" {
				t.Fatalf("Verify error %v is not an *Error with a message", err)
			}
			return
		}
		if p.Thumbprint == "" || p.JTI == "" || len(p.JTI) > MaxJTILen {
			t.Fatalf("accepted proof %+v", p)
		}
	})
}
