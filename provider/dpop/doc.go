// Package dpop verifies and makes DPoP proofs (RFC 9449): short-lived JWTs, signed
// with a key the client holds, that show the sender of a request holds the private
// key a token is bound to. It is pure: no storage, no HTTP handler, no clock of its
// own. Remembering which proofs were used (the jti replay check, RFC 9449 §11.1) is
// the caller's job; Proof.ReplayUntil says how long a jti must be remembered.
//
// Verify checks, in the order of RFC 9449 §4.3:
//   - the proof is one compact JWS (at most MaxProofLen bytes) signed with ES256,
//     RS256 (keys of 2048 bits or more) or EdDSA (Ed25519);
//   - its protected header has typ "dpop+jwt" and a jwk that is a public key only
//     (no private or symmetric key parts), and the signature verifies with that key;
//   - the claims are a JSON object with htm equal to the request method, htu equal
//     to the request URL without query and fragment (scheme and host compared
//     case-insensitively, default ports ignored, RFC 3986 §6.2.2–6.2.3), iat within
//     MaxSkew of the verifier's clock either way, and a non-empty jti of at most
//     MaxJTILen bytes;
//   - when a token is presented, ath equals the unpadded base64url SHA-256 of the
//     token (RFC 9449 §4.2); without a token ath is not looked at.
//
// The verifier's URL is built by the caller from its configured issuer and the
// request path, never from Host or proxy headers. Every failure is an *Error whose
// message may be shown to the client; it never quotes the proof.
//
// NewProof makes a proof with an ECDSA P-256, RSA or Ed25519 key: the reference
// clients and the tests use it.
package dpop
