// Package loadtest measures a running qrid the way its users load it: it owns the
// engine behind `qrid bench`. It drives the server only through its public HTTP
// APIs (discovery, device authorization, token endpoint, mobile API, /metrics) and
// sets itself up through the admin API, so what it measures is what PCs, phones and
// relying parties get.
//
// # Modes
//
// Login (ModeLogin) runs N concurrent pairs of a virtual PC and a virtual phone, each
// performing whole QR sign-ins: the PC asks for a device authorization (RFC 8628
// §3.1) and starts the token long-poll (wait=25, qrid's extension); the phone scans
// the QR content and confirms; the held poll answers with tokens; the PC verifies the
// ID token (signature, issuer, audience, expiry, at_hash, and that its subject is the
// phone's account). Poll (ModePoll) polls pending sessions without waiting, as fast
// as it can; ClientCredentials (ModeClientCredentials) asks for client_credentials
// tokens; Refresh (ModeRefresh) signs each worker in once with offline_access and
// then rotates its refresh token over and over, verifying every new ID token; Hold
// (ModeHold) opens M long-polls on M pending sessions, keeps them held and reads from
// the server's /metrics how many it holds and what memory that costs.
//
// # Setup and cleanup
//
// Before the timer starts, a run registers a dedicated first-party client (so there
// is no consent page and no number matching; should the server ask for a number
// anyway, the phone picks the match_code of the device authorization) and one user
// per virtual phone with a random password that is never shown; each phone signs in
// once through POST /api/mobile/v1/login, with a DPoP-bound token unless
// Config.BearerTokens. After the run everything created is deleted unless
// Config.Keep.
//
// # Measurements
//
// Each worker appends its durations to its own slices and counts its errors in its
// own map; they are merged once the workers have stopped, so nothing on the hot
// path takes a lock. Percentiles are nearest-rank over every sample. An error's
// kind is the step and what went wrong: the OAuth or mobile API error code
// ("token:invalid_grant"), the HTTP status when the answer has no code
// ("scan:502"), "rate_limited" for any HTTP 429 ("scan:rate_limited"), or the
// transport failure ("transport:timeout"). The server enforces rate limits and a
// cap on held polls per address; a load test from one machine needs it started with
// `qrid serve --rate-limits=false`, and a run that meets a limit says so once.
package loadtest
