// Package mobile serves the mobile API (/api/mobile/v1): what the first-party app
// uses to sign in on a phone, to manage the account's signed-in devices, and to scan
// and decide QR sign-ins (DESIGN §1a, §1c, §3b). The API is JSON; openapi.json
// (served at /api/mobile/v1/openapi.json) describes it completely for native apps.
//
// # Device tokens
//
// POST /login checks a username and password and answers an opaque device token:
// 32 random bytes in unpadded base64url. Only its keyed digest (DeviceTokens) is
// stored, as storage.Device.TokenDigest, together with the token's binding
// (account, device_id, device_type). Every other call but the OpenAPI document sends
// `Authorization: Bearer <token>` and `X-Device-Id: <device_id>`; the token is looked
// up on every request (no cache, so revocation takes effect at once) and refused
// unless the device ID it was issued for equals X-Device-Id, so a token copied off
// one phone does not work from an app installed elsewhere. Signing in again with the
// same device_id replaces the device's earlier token (the store does that
// atomically). A device's LastSeenAt is shown when the store has one; this package
// does not write it, so checking a token costs one read and no write.
//
// # DPoP-bound tokens
//
// A sign-in that carries a DPoP header (RFC 9449 §5: a proof for POST on
// {issuer}/api/mobile/v1/login) gets a token bound to the proof's key: its RFC 7638
// thumbprint is stored as Device.DPoPThumbprint and the answer says token_type
// "DPoP" ("Bearer" otherwise). A bound token is accepted only as `Authorization:
// DPoP <token>` with one fresh proof for that key: htm the request method, htu
// Issuer (else the QR service's issuer) followed by the request path — never the
// Host header —, iat within a minute of Now, ath the token's hash (package dpop
// checks all that). Each proof's jti is then recorded through storage.DPoPStore
// until the proof would be stale anyway, so a replay is refused on every node; a
// proof costs one more store write. A bound token sent as Bearer, or an unbound one
// sent as DPoP, is answered 401 unauthorized with a DPoP challenge error
// "invalid_token"; a missing, bad, replayed or foreign-key proof 401
// invalid_dpop_proof with error "invalid_dpop_proof" (400 at sign-in, as RFC 9449
// §5 answers at a token endpoint; nothing is stored then). The jti is used up after
// the proof is verified and before the password is checked. Plain bearer tokens
// keep working as before; a DPoP header sent with one is not looked at. Every 401
// without a usable token offers both the Bearer and the DPoP challenge.
//
// # Passwords
//
// Usernames are normalised as the admin API stores them. Passwords are checked with
// argon2id (package password). An unknown username is checked against a stand-in
// hash made with the same parameters, so it costs what a wrong password costs, and
// both are answered 401 invalid_credentials.
//
// # Rate limits
//
// Sign-in attempts are limited independently per username (LoginPerAccount, 5 a
// minute with a burst of 5) and per client address (LoginPerIP, 20 a minute with a
// burst of 20). Every attempt is charged up front, so parallel guesses cannot slip
// past the limit, and a successful sign-in is refunded, so signing in never locks the
// person out: only failures accumulate. The per-username limit applies to unknown
// usernames too, so being limited does not reveal that an account exists. Scanning
// QR codes and typing user codes is limited per account (ScanPerAccount, 10 a
// minute), since a typed user code is short enough to guess at scale otherwise (RFC
// 8628 §5.1). Over a limit the answer is 429 rate_limited with Retry-After.
//
// Each limiter is a generic cell rate algorithm (a token bucket kept as one time per
// key) in a map guarded by a mutex. Keys whose bucket has refilled are dropped by a
// periodic sweep, which loses nothing; the map is bounded (MaxLimiterKeys), and when
// it is full of active keys one arbitrary key is dropped, which at worst gives that
// key a fresh bucket. Limits are per node: behind a load balancer of n nodes a client
// may get up to n times the limit.
//
// The client address is the host part of the connection's remote address. Proxy
// headers (Forwarded, X-Forwarded-For) are not trusted: behind a reverse proxy every
// request would share the proxy's address and one limit.
//
// # QR sign-in
//
// POST /qr/scan and POST /qr/confirm are thin layers over grants/qr's Service.Scan
// and Service.Confirm: the caller's account and qrid device ID (storage.Device.ID)
// are passed in, and a *qr.Error is answered with its status and code. The scan
// answer carries what the person must see before deciding: the client, the scopes,
// the requester's address, user agent and time, and the three numbers to pick from
// when number matching is on.
//
// # Errors and logging
//
// Every error is JSON, {"error": code, "message": sentence}. Bad input (malformed
// JSON, unknown fields, trailing data, a body over 16 KiB, a wrong content type or
// method, missing fields) is answered 4xx before anything is stored. Every answer
// carries Cache-Control: no-store. Each request is logged (method, path, status,
// duration) and so are the security events (sign-ins, failed sign-ins, sign-outs,
// revocations, scans and decisions), at Info, with the account when it is known;
// tokens, passwords and request bodies are never logged. When Audit is set, sign-ins
// (mobile.login.ok), failed sign-ins (mobile.login.failed, not those refused by a
// rate limit), sign-outs (device.logout) and revocations (device.revoked) are also
// recorded in the audit trail with the client address (package audit); scans and
// decisions are recorded by the QR service's OnEvent hook.
package mobile
