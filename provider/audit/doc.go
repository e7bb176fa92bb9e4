// Package audit records qrid's security events in the store's audit trail
// (storage.AuditStore): sign-ins and failed sign-ins, QR scans and decisions,
// device revocations, refresh token reuse and admin changes. The event types are
// the constants of this package; the admin API lists the trail
// (GET /admin/v1/audit) and `qrid audit list` prints it.
//
// # Recording never holds up a request
//
// Recorder.Record stamps the event (a random ID and the time now, unless set) and
// returns at once: the event is written on a goroutine of its own, with a context
// that has none of the caller's cancellation nor its transaction, bounded by a
// timeout (5 s by default). So a slow or unreachable store delays no request, an
// event is stored even when the request that caused it rolls back its transaction
// (a rejected refresh token, for instance), and a write can never wait on a lock
// its own request holds. At most MaxPending writes are in flight; past that, an
// event is dropped and logged at Warn with all its fields, so the log still has it.
// A write that fails or times out is logged at Error with all the event's fields;
// nothing is returned to the caller and nothing is retried. The trail is therefore
// best effort: complete in normal operation, and backed by the log otherwise.
//
// A nil *Recorder records nothing, so the packages that record events treat the
// recorder as optional.
//
// # What each event carries
//
// AccountID is the user concerned, ClientID the OAuth client, DeviceID qrid's ID of
// the signed-in device (storage.Device.ID, or "web-…" for a browser approving on the
// /device page), IP the caller's address when the event comes from an HTTP request
// on the public listener, and Detail a short reason. Passwords, tokens and
// usernames that match no account are never recorded. Attempts refused by a rate
// limit are not recorded (they are logged), so a flood of guesses cannot flood the
// trail beyond what the limits let through.
package audit
