// Package memory is qrid's in-memory storage backend, the embedded default when no
// database is configured. It keeps every object in maps guarded by one lock and
// passes the conformance suite in storage/storagetest.
//
// Values are copied on the way in and on the way out: a caller can never change a
// stored slice by mutating what it passed or what it got back.
//
// # Locking
//
// A read-write mutex guards the maps. Reads take the read lock; every write takes the
// write lock for the whole method, so each conditional change (DeactivateTokenSession,
// CreateSigningKey, RotateSigningKey, UpdateClient, UpdateQRSession, CreateDevice) is
// a single atomic step. The update functions given to UpdateClient and
// UpdateQRSession run with the lock held and must not call the store.
//
// # QR notifications
//
// The store is its own storage.QRNotifier. Every QR session change is queued for
// each ListenQR caller while the change is made (under the write lock), or, inside a
// transaction, when the transaction commits (never if it rolls back); so listeners
// hear changes in the order they were made. Each ListenQR call drains its own
// unbounded queue on the goroutine that called it: a slow listener never holds up
// a writer.
//
// # Transactions
//
// BeginTX takes the store's write lock and returns a context carrying the open
// transaction. The lock is held until Commit or Rollback, so transactions are fully
// serialised and see no concurrent writer: this is serialisable isolation, the
// simplest level that makes fosite's read-deactivate-create sequences (refresh token
// rotation, code exchange) safe. Calls made with the transaction's context do not
// lock the store again (the transaction already owns it); they are serialised among
// themselves by a small per-transaction mutex, so a transaction context shared by
// several goroutines is still race-free. Every write made inside a transaction pushes
// its inverse onto an undo log; Rollback replays the log backwards, Commit drops it.
//
// A call made with any other context while a transaction is open waits for the
// transaction to end. Code holding a transaction must therefore use the transaction's
// context for every store call, or it waits on itself.
//
// Like database/sql, a transaction is rolled back when the context given to BeginTX
// is cancelled, so a forgotten or abandoned transaction cannot hold the lock forever.
// Once a transaction has ended, calls made with its context return an error.
package memory
