// Package storage defines everything qrid keeps: the Storage interface, the plain value
// structs it stores, and the sentinel errors every backend returns: ErrNotFound,
// ErrConflict and, departing from the two of DESIGN §5, ErrTooMany, because the cap
// on a client's open QR sessions is checked by the statement that creates one
// (CreateQRSessionCapped) and its refusal is neither of the other two.
//
// The shape follows dex: one interface, a regular verb grid (Create, Get, List, Update,
// Delete) and GarbageCollect. Conditional changes are single calls that either succeed
// or return ErrConflict (DeactivateTokenSession, CreateSigningKey, RotateSigningKey,
// SwapQRSession, a compare-and-swap on a QR session's version), or compare-and-swap
// closures (UpdateClient, UpdateQRSession) that a SQL backend runs inside a
// transaction. A backend never decides in Go what a single conditional statement can
// decide in the database.
//
// Storage knows nothing of HTTP nor of fosite: the provider serialises fosite requests
// into TokenSession.Request and keeps secrets only as digests (Client.SecretDigest,
// BrowserSession.ID, TokenSession.Signature are all keyed digests or HMAC signatures).
//
// Backends live in sibling packages (memory, postgres) and must pass the conformance
// suite in storage/storagetest.
package storage

import (
	"context"
	"errors"
	"slices"
	"time"
)

var (
	// ErrNotFound is returned when the requested object does not exist (or has expired
	// and is no longer served).
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict is returned when a create collides with an existing object, or when
	// a conditional update finds the object no longer in the expected state.
	ErrConflict = errors.New("storage: conflict")
	// ErrTooMany is returned by CreateQRSessionCapped when the client already has
	// as many open QR sessions as it may.
	ErrTooMany = errors.New("storage: too many")
)

// Storage is what qrid needs from a backend.
type Storage interface {
	ClientStore
	UserStore
	SigningKeyStore
	TokenSessionStore
	ConsentStore
	BrowserSessionStore
	QRSessionStore
	DeviceStore
	DPoPStore
	AuditStore
	Transactor

	// GarbageCollect deletes rows that have expired at now: token sessions,
	// browser sessions and retired signing keys whose ExpiresAt has passed, QR
	// sessions whose ExpiresAt is more than QRSessionRetention in the past (kept a
	// while so a late poll is told expired_token rather than invalid_grant), and
	// audit events whose Time is more than AuditRetention in the past, and the DPoP
	// proof records whose ExpiresAt has passed.
	GarbageCollect(ctx context.Context, now time.Time) (GCResult, error)
	// Ping reports whether the backend is reachable (readiness).
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close() error
}

// GCResult counts what GarbageCollect removed.
type GCResult struct {
	TokenSessions   int64
	BrowserSessions int64
	SigningKeys     int64
	QRSessions      int64
	AuditEvents     int64
	DPoPProofs      int64
}

// Transactor groups several calls into one atomic unit. BeginTX returns a context
// that carries the transaction; every call made with that context joins it until
// Commit or Rollback is called with the same context. The method names are those of
// fosite's storage.Transactional so fosite's multi-step writes (refresh rotation,
// code exchange) are atomic.
//
// Transactions do not nest: BeginTX on a context that already carries one returns an
// error.
type Transactor interface {
	BeginTX(ctx context.Context) (context.Context, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Client is a registered OAuth 2.0 client (RFC 7591 metadata plus qrid's own).
type Client struct {
	ID string
	// SecretDigest is the keyed digest of the client secret; empty for public
	// clients (token_endpoint_auth_method "none").
	SecretDigest            []byte
	Name                    string
	RedirectURIs            []string
	PostLogoutRedirectURIs  []string
	GrantTypes              []string
	ResponseTypes           []string
	Scopes                  []string
	TokenEndpointAuthMethod string
	LogoURI                 string
	ClientURI               string
	// IDTokenSignedResponseAlg is "ES256" (the default when empty) or "RS256".
	IDTokenSignedResponseAlg string
	// FirstParty clients skip the consent page and number matching.
	FirstParty bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Clone returns a copy of c that shares no slice with it.
func (c Client) Clone() Client {
	c.SecretDigest = slices.Clone(c.SecretDigest)
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	c.GrantTypes = slices.Clone(c.GrantTypes)
	c.ResponseTypes = slices.Clone(c.ResponseTypes)
	c.Scopes = slices.Clone(c.Scopes)
	return c
}

// ClientStore keeps registered clients.
type ClientStore interface {
	// CreateClient stores c; ErrConflict if a client with c.ID exists.
	CreateClient(ctx context.Context, c Client) error
	GetClient(ctx context.Context, id string) (Client, error)
	// ListClients returns all clients ordered by CreatedAt, then ID.
	ListClients(ctx context.Context) ([]Client, error)
	// UpdateClient reads the client, calls update and stores what it returns, all
	// atomically. An error from update is returned unchanged and nothing is stored.
	// The ID and CreatedAt cannot be changed by update.
	UpdateClient(ctx context.Context, id string, update func(old Client) (Client, error)) (Client, error)
	// DeleteClient removes the client together with its token sessions and consents.
	DeleteClient(ctx context.Context, id string) error
}

// User is a person who can sign in.
type User struct {
	// ID is the stable subject identifier (the ID token's sub).
	ID       string
	Username string
	// PasswordHash is an argon2id hash in PHC string format.
	PasswordHash string
	Name         string
	Email        string
	CreatedAt    time.Time
}

// UserStore keeps users.
type UserStore interface {
	// CreateUser stores u; ErrConflict if the ID or the username is taken.
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByUsername matches the username exactly (usernames are stored as given;
	// the caller normalises them before creating and looking up).
	GetUserByUsername(ctx context.Context, username string) (User, error)
	// ListUsers returns all users ordered by CreatedAt, then ID.
	ListUsers(ctx context.Context) ([]User, error)
	// DeleteUser removes the user with their consents, browser sessions and token
	// sessions.
	DeleteUser(ctx context.Context, id string) error
}

// SigningKey is an ID token signing key. The private key is only ever stored sealed.
type SigningKey struct {
	// ID is the JWK kid.
	ID string
	// Algorithm is "ES256" or "RS256".
	Algorithm string
	// PrivateKeySealed is the PKCS#8 DER private key sealed with AES-256-GCM under a
	// key derived from the system secret.
	PrivateKeySealed []byte
	// PublicKeyJWK is the public JWK as JSON, served in the JWKS without unsealing.
	PublicKeyJWK []byte
	CreatedAt    time.Time
	// RetiredAt is zero while the key is the active key for its algorithm.
	RetiredAt time.Time
	// ExpiresAt is zero while active; once retired it is when the last token the key
	// signed expires, after which the key leaves the JWKS and is collected.
	ExpiresAt time.Time
}

// Active reports whether k is the active key of its algorithm.
func (k SigningKey) Active() bool { return k.RetiredAt.IsZero() }

// SigningKeyStore keeps signing keys.
type SigningKeyStore interface {
	// CreateSigningKey stores an active key; ErrConflict if an active key for the same
	// algorithm exists already (two nodes starting together: the loser reloads).
	CreateSigningKey(ctx context.Context, k SigningKey) error
	// ListSigningKeys returns every stored key, newest first.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// RotateSigningKey atomically retires the active key of next.Algorithm (setting
	// RetiredAt to now and ExpiresAt to keepUntil) and stores next as the active key.
	// With no active key of that algorithm it simply stores next.
	RotateSigningKey(ctx context.Context, next SigningKey, now, keepUntil time.Time) error
}

// TokenKind says what a TokenSession stands for.
type TokenKind string

// The token kinds fosite stores.
const (
	KindAuthorizeCode TokenKind = "authorize_code"
	KindAccessToken   TokenKind = "access_token"
	KindRefreshToken  TokenKind = "refresh_token"
	KindPKCE          TokenKind = "pkce"
	KindOpenIDConnect TokenKind = "oidc"
)

// TokenSession is a stored grant: an authorization code, access token, refresh token,
// PKCE or OpenID Connect request, looked up by the token's HMAC signature.
type TokenSession struct {
	Kind      TokenKind
	Signature string
	// RequestID ties together every token of one grant (a refresh chain keeps the
	// request ID of the original code exchange).
	RequestID string
	ClientID  string
	Subject   string
	// Active is false once an authorization code was exchanged or a refresh token
	// rotated; the row stays so that reuse can be detected.
	Active bool
	// Request is the serialised request (scopes, form, session), opaque to storage.
	Request   []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// TokenSessionStore keeps token sessions.
type TokenSessionStore interface {
	// CreateTokenSession stores s; ErrConflict if (Kind, Signature) exists,
	// ErrNotFound if s.ClientID names no client.
	CreateTokenSession(ctx context.Context, s TokenSession) error
	// GetTokenSession returns the session, active or not.
	GetTokenSession(ctx context.Context, kind TokenKind, signature string) (TokenSession, error)
	// DeleteTokenSession removes one session; ErrNotFound if it does not exist.
	DeleteTokenSession(ctx context.Context, kind TokenKind, signature string) error
	// DeactivateTokenSession marks an active session inactive in one conditional
	// step: ErrNotFound if it does not exist, ErrConflict if it was already
	// inactive. Of two concurrent calls exactly one succeeds.
	DeactivateTokenSession(ctx context.Context, kind TokenKind, signature string) error
	// DeleteTokenSessionsByRequestID removes every session of kind that belongs to
	// requestID (revoking a whole refresh chain). No sessions is not an error.
	DeleteTokenSessionsByRequestID(ctx context.Context, kind TokenKind, requestID string) error
}

// Consent is what a user allowed a client, remembered so they are not asked again.
type Consent struct {
	Subject   string
	ClientID  string
	Scopes    []string
	GrantedAt time.Time
}

// ConsentStore keeps consents, one per (subject, client).
type ConsentStore interface {
	// SaveConsent creates or replaces the consent of (c.Subject, c.ClientID).
	SaveConsent(ctx context.Context, c Consent) error
	GetConsent(ctx context.Context, subject, clientID string) (Consent, error)
	DeleteConsent(ctx context.Context, subject, clientID string) error
}

// BrowserSession is the single sign-on session behind qrid's session cookie.
type BrowserSession struct {
	// ID is the keyed digest of the cookie value; the cookie value itself is never
	// stored.
	ID       string
	Subject  string
	AuthTime time.Time
	// AMR lists the authentication methods used (RFC 8176), e.g. "pwd" or "qr".
	AMR       []string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// BrowserSessionStore keeps SSO sessions.
type BrowserSessionStore interface {
	// CreateBrowserSession stores s; ErrConflict if s.ID exists.
	CreateBrowserSession(ctx context.Context, s BrowserSession) error
	// GetBrowserSession returns the session, expired or not (the caller compares
	// ExpiresAt with its clock); ErrNotFound when missing.
	GetBrowserSession(ctx context.Context, id string) (BrowserSession, error)
	DeleteBrowserSession(ctx context.Context, id string) error
}

// QRSessionRetention is how long an expired QR session is kept before
// GarbageCollect removes it.
const QRSessionRetention = time.Hour

// QRState is where a QR session is in its life (DESIGN §4). Expiry is not a stored
// state: a session whose ExpiresAt has passed is expired whatever State says, unless it
// was consumed.
type QRState string

// The QR session states.
const (
	QRPending  QRState = "pending"
	QRScanned  QRState = "scanned"
	QRApproved QRState = "approved"
	QRConsumed QRState = "consumed"
	QRDenied   QRState = "denied"
)

// QRSession is one QR sign-in: created by a device authorization (or the login page),
// bound to an account and a device when scanned, decided on the phone, consumed when
// the tokens are delivered.
type QRSession struct {
	// ID is the qr_id: 128-bit random, public, in the QR code.
	ID string
	// Kind is "device" (RFC 8628 clients) or "web" (the login page).
	Kind string
	// DeviceCodeDigest and UserCodeDigest are keyed digests (lookup keys; the codes
	// themselves are never stored). UserCodeDigest is unique among sessions.
	DeviceCodeDigest string
	UserCodeDigest   string
	ClientID         string
	Scopes           []string
	State            QRState
	// MatchCode is the two-digit number shown on the PC ("" when number matching is
	// off); MatchChoices are the three numbers the phone offers, one of them
	// MatchCode.
	MatchCode    string
	MatchChoices []string
	// Interval is the polling interval in seconds announced to the client; it grows
	// by 5 with every slow_down (RFC 8628 §3.5).
	Interval int
	// RequesterIP and RequesterUserAgent describe the PC or browser that asked.
	RequesterIP        string
	RequesterUserAgent string
	// BrowserBinding is the digest of the browser cookie a web session is bound to
	// ("" for device sessions).
	BrowserBinding string
	CreatedAt      time.Time
	ExpiresAt      time.Time

	// Set by a scan: who scanned, with what device, and the one-time confirm token.
	AccountID          string
	DeviceID           string
	ConfirmTokenDigest string
	ConfirmExpiresAt   time.Time
	ScannedAt          time.Time

	// Set by the decision.
	DecidedAt time.Time
	// DenyReason is "denied" (the person refused), "contested" (a second device
	// scanned) or "wrong_match" (the wrong number was picked) when State is denied.
	DenyReason string
	// Version increases with every change; notifications carry it so a node can tell
	// a stale cached state from a fresh one.
	Version int64
}

// Counted is implemented by stores that count what they send to their database
// (the PostgreSQL store); qrid exports the counts as metrics.
type Counted interface {
	Counts() Counts
}

// Counts are the statements and transactions a store has sent to its database.
type Counts struct {
	// Statements is every statement sent, including BEGIN, COMMIT, savepoints and
	// reads: roughly the round trips (a statement a connection has not prepared yet
	// costs one more, to prepare it).
	Statements uint64
	// Transactions is every transaction the database ran for the store: each
	// BEGIN … COMMIT/ROLLBACK block, and each statement sent outside such a block
	// (which runs as a transaction of its own), reads included.
	Transactions uint64
	// Writes is the part of Transactions that may change data: the blocks, and the
	// statements outside blocks that are not a plain SELECT.
	Writes uint64
}

// Sub is c minus an earlier snapshot.
func (c Counts) Sub(earlier Counts) Counts {
	return Counts{
		Statements:   c.Statements - earlier.Statements,
		Transactions: c.Transactions - earlier.Transactions,
		Writes:       c.Writes - earlier.Writes,
	}
}

// QRSessionStore keeps QR sessions.
type QRSessionStore interface {
	// CreateQRSession stores s (Version 1); ErrConflict if the ID, the device code
	// digest or the user code digest is taken.
	CreateQRSession(ctx context.Context, s QRSession) error
	// CreateQRSessionCapped is CreateQRSession refused with ErrTooMany when s's
	// client already has maxOpen sessions pending or scanned that expire after
	// s.CreatedAt, checked in the same statement. Creations running at the same
	// moment may each see the count before the others: the cap may be overshot by
	// as many.
	CreateQRSessionCapped(ctx context.Context, s QRSession, maxOpen int) error
	GetQRSession(ctx context.Context, id string) (QRSession, error)
	// GetQRSessionByDeviceCode, ByUserCode and ByConfirmToken look a session up by a
	// digest; ErrNotFound when none matches.
	GetQRSessionByDeviceCode(ctx context.Context, digest string) (QRSession, error)
	GetQRSessionByUserCode(ctx context.Context, digest string) (QRSession, error)
	GetQRSessionByConfirmToken(ctx context.Context, digest string) (QRSession, error)
	// UpdateQRSession reads the session, calls update and stores what it returns with
	// Version incremented, atomically (a SQL backend locks the row in a transaction).
	// An error from update is returned unchanged and nothing is stored. The ID, the
	// code digests, ClientID and CreatedAt cannot be changed. After the change is
	// durable it is published to every QR listener (see QRNotifier), on every node.
	UpdateQRSession(ctx context.Context, id string, update func(old QRSession) (QRSession, error)) (QRSession, error)
	// SwapQRSession stores next in place of old if the stored session is still at
	// old.Version, with Version incremented, and appends events to the audit trail,
	// atomically: one statement in a SQL backend, so a step of a QR sign-in is one
	// transaction and one round trip. ErrConflict when the stored version is another
	// (the session changed since old was read: read it again and retry) or a digest
	// of next is taken; ErrNotFound when there is no session old.ID. Like
	// UpdateQRSession it keeps the immutable fields and publishes the change once it
	// is durable, except a change to QRConsumed: nothing waits on a consumed
	// session (a node that still thinks it approved finds out when its own swap
	// fails), and on PostgreSQL a notification in token delivery's synchronous
	// transaction would hold the database-wide notification lock through the WAL
	// flush, queueing every other QR step behind it.
	SwapQRSession(ctx context.Context, old, next QRSession, events ...AuditEvent) (QRSession, error)
	// CountPendingQRSessions counts sessions of clientID still pending or scanned
	// and not expired at now (the cap on open sessions per client).
	CountPendingQRSessions(ctx context.Context, clientID string, now time.Time) (int, error)
}

// QRNotifier is implemented by backends that tell other nodes about QR session
// changes (PostgreSQL LISTEN/NOTIFY). The memory backend implements it in process.
type QRNotifier interface {
	// ListenQR calls changed with the session ID and new Version of every QR
	// session change made through any node, until ctx ends. It calls ready once it is
	// listening, and reconnected (if not nil) each time it had to reconnect, since
	// changes may have been missed meanwhile. It returns ctx's error when ctx ends.
	ListenQR(ctx context.Context, ready func(), reconnected func(), changed func(id string, version int64)) error
}

// Device is a phone (or other device) signed in to the mobile app. Its token is
// opaque and bound to (AccountID, DeviceID, DeviceType): a request whose X-Device-Id
// differs is refused.
type Device struct {
	// ID is qrid's identifier of this sign-in (used in the devices list and to
	// revoke it).
	ID string
	// AccountID is the user's ID.
	AccountID string
	// DeviceID is the app's own identifier of the device (X-Device-Id).
	DeviceID   string
	DeviceType string
	Name       string
	// TokenDigest is the keyed digest of the device token (unique).
	TokenDigest string
	// DPoPThumbprint is the RFC 7638 thumbprint of the key the token is bound to
	// (RFC 9449), or "" when the token is a plain bearer token.
	DPoPThumbprint string
	CreatedAt      time.Time
	LastSeenAt     time.Time
}

// DeviceStore keeps signed-in devices.
type DeviceStore interface {
	// CreateDevice stores d, first removing any device of the same (AccountID,
	// DeviceID) — signing in again on a device replaces its old token — all
	// atomically. ErrConflict if d.ID or d.TokenDigest is taken; ErrNotFound if
	// the account does not exist.
	CreateDevice(ctx context.Context, d Device) error
	GetDeviceByToken(ctx context.Context, tokenDigest string) (Device, error)
	GetDevice(ctx context.Context, id string) (Device, error)
	// ListDevices returns the account's devices, newest first.
	ListDevices(ctx context.Context, accountID string) ([]Device, error)
	// DeleteDevice removes the device (its token stops working at once);
	// ErrNotFound if it does not exist.
	DeleteDevice(ctx context.Context, id string) error
}

// DPoPStore remembers the DPoP proofs already used (RFC 9449 §11.1), so that a
// proof replayed to any node is refused.
type DPoPStore interface {
	// UseDPoPProof records the proof identified by (jkt, jti) — the thumbprint of
	// its key and its jti claim — as used until expiresAt, in one conditional step:
	// ErrConflict if it was recorded already (and not yet collected, expired or
	// not). Of concurrent calls with the same (jkt, jti) exactly one succeeds.
	// GarbageCollect removes the records whose expiresAt is before now.
	UseDPoPProof(ctx context.Context, jkt, jti string, expiresAt time.Time) error
}

// AuditRetention is how long an audit event is kept before GarbageCollect removes
// it.
const AuditRetention = 90 * 24 * time.Hour

// AuditMaxLimit caps the events one ListAuditEvents call returns.
const AuditMaxLimit = 1000

// AuditEvent is one security event: a sign-in, a QR decision, a revocation, an
// admin change. Events are only ever appended, never changed, and removed only by
// GarbageCollect once older than AuditRetention. They name accounts, clients and
// devices by ID without referring to them, so the trail outlives what it mentions.
type AuditEvent struct {
	// ID is unique among events.
	ID   string
	Time time.Time
	// Type is a dotted name such as "mobile.login.failed" (package provider/audit
	// lists them).
	Type string
	// AccountID is the user concerned, ClientID the OAuth client and DeviceID the
	// signed-in device (storage.Device.ID), each "" when not known or not relevant.
	AccountID string
	ClientID  string
	DeviceID  string
	// IP is the address of whoever caused the event, when known.
	IP string
	// Detail is a short free-form text (a failure reason, who acted).
	Detail string
}

// AuditQuery selects audit events. Empty fields do not filter.
type AuditQuery struct {
	AccountID string
	Type      string
	// Since keeps the events whose Time is at or after it.
	Since time.Time
	// Limit is the most events returned; a Limit below 1 or above AuditMaxLimit
	// means AuditMaxLimit.
	Limit int
}

// AuditStore keeps the audit trail.
type AuditStore interface {
	// AppendAuditEvent stores e; ErrConflict if an event with e.ID exists.
	AppendAuditEvent(ctx context.Context, e AuditEvent) error
	// ListAuditEvents returns the events q selects, newest first (by Time, then by
	// ID, greatest first), at most q.Limit of them.
	ListAuditEvents(ctx context.Context, q AuditQuery) ([]AuditEvent, error)
}
