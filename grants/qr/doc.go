// Package qr is qrid's QR grant: the QR session (DESIGN §4) and everything that moves
// it, from the device authorization to the delivery of tokens.
//
//   - session.go is the state machine, pure: Apply(session, event, now) returns the
//     next session or a typed refusal (errors.go), with no store and no clock of its
//     own. A scan by a second device, a wrong number or a refusal close the session;
//     other refusals change nothing.
//   - codes.go makes the secrets (qr_id, device code, user code, confirm token) and
//     parses what a phone scanned. Only keyed digests of the secrets are stored.
//   - service.go runs sessions on a storage.Storage: Authorize, Scan, Confirm, Poll
//     (with the long-poll extension: wait up to 25 s for a change) and Consume.
//     Under DeferWait, Poll answers *Waiting instead of holding the request; the
//     caller waits with Service.Wait and polls again under Resume. qrid's token
//     endpoint does so, to wait after fosite has returned, on a shallow stack.
//   - hub.go is one node's live view of its sessions: a cache that lets a poll read
//     nothing from the database, the wake-ups of waiting polls and event streams, and
//     RFC 8628's polling interval and slow_down. Changes made on other nodes reach it
//     through the store's notifications (PostgreSQL LISTEN/NOTIFY).
//   - handler.go is the fosite TokenEndpointHandler of
//     urn:ietf:params:oauth:grant-type:device_code, registered with Factory.
//
// # Concurrency
//
// Each step of a sign-in is one conditional write (storage.SwapQRSession): the state
// machine runs on the session as last seen, from the hub when it is fresh there, and
// the result is stored only if the session's version has not moved; otherwise the
// session is read again and the step decided anew. A refusal is only trusted from
// the stored session. So of two phones scanning at once, or two confirms, or two
// polls collecting the tokens, exactly one wins, on any number of nodes, and the
// audit event of a step is written by the same statement as the step. Token delivery
// consumes the session in the transaction that stores the tokens.
//
// Departures from DESIGN §4: polling intervals (slow_down) are kept per node, so a
// client whose polls a load balancer spreads over several nodes is held to the
// interval on each node separately. And every state change is published except the
// last, consumption (storage.SwapQRSession): whoever waits on a session was woken by
// its approval already, a node that still holds it as approved learns otherwise when
// its own swap fails, and on PostgreSQL a notification sent by token delivery's
// synchronous transaction would hold the database-wide notification lock through
// its WAL flush, queueing every other QR step behind it.
package qr
