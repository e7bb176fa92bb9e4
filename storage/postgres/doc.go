// Package postgres is qrid's PostgreSQL backend of storage.Storage, built on pgx/v5
// (pgxpool) with the schema in package migrations, run by jackc/tern.
//
// Design:
//
//   - Conditional changes are decided by the database, never read-then-written in Go.
//     DeactivateTokenSession is a single UPDATE ... WHERE active whose statement also
//     tells a missing row (ErrNotFound) from an inactive one (ErrConflict); of two
//     concurrent calls the row lock lets exactly one through. CreateSigningKey relies
//     on a partial unique index (one row per algorithm WHERE retired_at IS NULL).
//     UpdateClient runs SELECT ... FOR UPDATE, the caller's function and the UPDATE in
//     one transaction. RotateSigningKey locks the signing_keys table against other
//     writers (readers are not blocked), retires the active key and inserts the next
//     one in one transaction, so concurrent rotations queue instead of failing.
//     DeleteUser removes the user and the user's token sessions in one statement
//     (token sessions have no foreign key on subject, because a client_credentials
//     token's subject is a client); every other cascade is a foreign key.
//
//   - QR sessions: each step of a QR sign-in is one statement. CreateQRSessionCapped
//     is one INSERT ... SELECT whose WHERE counts the client's open sessions (at
//     most the cap's worth of index entries); SwapQRSession is one UPDATE ... WHERE
//     id AND version (optimistic: the caller read the session, from its node's hub or
//     from the store, and retries on ErrConflict) with the audit rows inserted by a
//     data-modifying CTE of the same statement. UpdateQRSession (SELECT ... FOR
//     UPDATE, the caller's function, UPDATE, in one transaction or a savepoint of
//     the caller's) remains for callers that must decide under a lock. Every
//     statement that writes a session calls pg_notify with "id:version" in its
//     RETURNING clause. PostgreSQL delivers a notification when its transaction
//     commits and drops it if it rolls back, so listeners hear of exactly the
//     committed changes, in commit order. The channel is "qrid_qr_" followed by the
//     current schema (hashed if too long), because channels are database-wide and
//     deployments or tests in different schemas of one database must not hear each
//     other. ListenQR listens on a connection taken out of the pool for good,
//     reconnects with back-off, and reports reconnections since changes made
//     meanwhile were missed. CreateDevice replaces the device of the same (account,
//     device ID) with one INSERT ... ON CONFLICT DO UPDATE.
//
//   - Relaxed commits for the QR steps before token delivery. CreateQRSessionCapped
//     and SwapQRSession, outside a caller's transaction, run on a second pool whose
//     connections set synchronous_commit=off: the commit returns before its WAL
//     record is flushed to disk, so device authorization, scan and confirm do not
//     each wait for an fsync (a sign-in otherwise waits for four). What a crash of
//     PostgreSQL itself (not of qrid) can lose is the last fraction of a second of
//     such steps (wal_writer_delay, 200 ms by default): those people scan again.
//     Nothing is ever delivered on a step that could be lost: token delivery
//     consumes the session in a transaction of the synchronous pool, and flushing its
//     commit record flushes every WAL record before it, including the approval it
//     relied on. The DPoP replay cache (UseDPoPProof), written on every request of a
//     DPoP-bound phone, commits relaxed too: such a crash could forget the proofs of
//     that last fraction of a second, which would let those proofs (signed, bound to
//     one method and URL, sent over TLS) be replayed within the rest of their
//     60-second window. Everything else (clients, users, devices, tokens, keys,
//     audit events of their own) commits synchronously.
//
//   - Errors go through one translator: pgx.ErrNoRows becomes storage.ErrNotFound, a
//     unique violation (SQLSTATE 23505) storage.ErrConflict, and a foreign key
//     violation (23503) storage.ErrNotFound, because it means the row refers to a
//     client or user that does not exist (a token session for an unknown client, a
//     consent for an unknown user). Error messages are never inspected. Deleting a row
//     that does not exist is ErrNotFound.
//
//   - Transactions follow fosite's storage.Transactional: BeginTX returns a context
//     carrying a pgx.Tx and every method called with that context runs on it. Methods
//     that need several statements (UpdateClient, RotateSigningKey) run in a savepoint
//     of the caller's transaction when there is one, otherwise in their own. A failed
//     statement aborts the caller's transaction, as PostgreSQL always does: after an
//     error the caller rolls back. Rollback after Commit is a no-op, so a deferred
//     Rollback is always safe. Like the connection under it, a transaction runs one
//     statement at a time: its context is not for concurrent use.
//
//   - Times are written as instants and returned in UTC, at PostgreSQL's microsecond
//     precision. Unset optional times (a signing key's RetiredAt and ExpiresAt) are
//     NULL. Empty lists and byte strings are stored empty and returned as nil.
//
//   - Migrate runs tern under a PostgreSQL advisory lock, so nodes starting together
//     migrate once; tern's version table is schema_version in the connection's current
//     schema, so a search_path (for instance search_path=qrid in the URL's query)
//     selects where qrid's tables live.
//
// testing.go holds test support for every package's tests (a fresh, migrated schema
// per store); it is not used by the server.
package postgres
