// Package keys owns qrid's ID token signing keys: it generates them, keeps them
// sealed in storage, hands the active private key to the token path, publishes the
// public keys in the JWKS and rotates them (DESIGN §6).
//
// # Keys
//
// There is one active key per algorithm: ES256 (P-256, the default for ID tokens) and
// RS256 (RSA 2048, for clients that ask for it with id_token_signed_response_alg).
// [Manager.Init] makes sure both exist when a node starts. When several nodes start
// together on one database, each may generate a key, but the store accepts only one
// active key per algorithm (storage.ErrConflict for the others); a node that loses
// that race discards its key and uses the winner's.
//
// The kid is the RFC 7638 JWK thumbprint (SHA-256, unpadded base64url) of the public
// key. It is unique without coordination between nodes, reveals nothing the public key
// does not, and lets anyone check that a kid names the key it is published with.
//
// # Sealing
//
// A private key is stored as its PKCS#8 DER encoding sealed with AES-256-GCM, the
// random 96-bit nonce prepended to the ciphertext. The AES key is derived from the
// system secret with HKDF-SHA256 under the label "qrid signing keys", so it is
// distinct from every other key qrid derives from the same secret. The kid and the
// algorithm are the additional authenticated data: a sealed key copied into another
// row does not open. After unsealing, the private key must also match the row's
// public JWK, so the sealed key, the kid and the published key cannot disagree.
// A key that does not open (most often because the system secret changed) is
// reported as such, never as a panic; the public keys are still published.
//
// # Caching and rotation across nodes
//
// The token path asks for the active key on every ID token, so [Manager.SigningKey]
// answers from an in-memory snapshot of the stored keys: an atomic pointer load and a
// clock read, no lock and no allocation. The snapshot is re-read from the store when
// it is older than Options.CacheFor (30s by default), so nodes sharing a database
// converge on a rotated key within that period. Private keys are unsealed once per
// kid and kept across re-reads. The JWKS and [Manager.PublicKey] use the same snapshot
// but re-read it after 5 seconds (or CacheFor, if shorter), so a key rotated on
// another node is published well before the other nodes start signing with it;
// [Manager.PublicKey] also re-reads once when asked for an unknown kid, at most once
// a second so that made-up kids cannot turn every request into a database read.
// Only one re-read runs at a time; concurrent callers wait for it (or for their
// context) and share its result. A failed re-read is returned to the caller: the
// node does not keep signing with a snapshot it can no longer confirm.
//
// [Manager.Rotate] stores a new active key and retires the old one in a single store
// call, then refreshes this node's snapshot at once. A retired key stays in the JWKS
// until its ExpiresAt, which is set to the rotation time plus Options.RetainFor (the
// longest lifetime of a token the key signed) plus Options.CacheFor: other nodes may
// go on signing with the old key until their snapshot is re-read, and the tokens they
// sign in that window must remain verifiable for their whole lifetime.
//
// The public keys in the JWKS carry kid, alg and use "sig". The manager speaks
// go-jose v4; the private keys it hands out are the raw *ecdsa.PrivateKey and
// *rsa.PrivateKey, which is what fosite (on go-jose v3) expects.
package keys
