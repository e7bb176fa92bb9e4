// Package migrations owns qrid's PostgreSQL schema: numbered SQL files
// (NNNN_name.sql) embedded in the binary and run by github.com/jackc/tern/v2.
//
// Each file has tern's two sections: the statements that create the change, then a
// "---- create above / drop below ----" line, then the statements that undo it.
// Files are never edited once released; a change to the schema is a new file with
// the next number. The runner (advisory lock, version table, status) lives in
// storage/postgres, which is the only reader of this schema.
//
// Schema decisions:
//   - Times are timestamptz and always written and read as UTC instants. Optional
//     times (a signing key's retired_at and expires_at) are NULL when unset.
//   - Lists (redirect URIs, scopes, AMR values) are text[] NOT NULL; binary values
//     (digests, sealed keys, serialised requests) are bytea.
//   - Deletes cascade by foreign key where the storage contract says they do: a
//     client's token sessions and consents, a user's consents and browser sessions.
//     Token sessions carry no foreign key on subject because a client_credentials
//     token's subject is a client, not a user; deleting a user removes the user's
//     token sessions in the same statement that removes the user.
//   - QR sessions cascade with their client and devices with their user. The
//     digest columns of QR sessions hold the empty string for "none" and are unique
//     only among non-empty values (partial unique indexes).
//   - One active signing key per algorithm is guaranteed by a partial unique index
//     (WHERE retired_at IS NULL), so two nodes creating a first key at once cannot
//     both win.
package migrations

import "embed"

// FS holds the migration files, named NNNN_name.sql, at its root.
//
//go:embed *.sql
var FS embed.FS
