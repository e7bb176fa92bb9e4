package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/qrid/qrid/storage"
)

// Store is the PostgreSQL storage.Storage.
type Store struct {
	pool *pgxpool.Pool
	// relaxed is a second pool whose connections commit without waiting for the
	// WAL flush (synchronous_commit=off), for the QR steps before token delivery
	// (see the package documentation); nil when the pool was made elsewhere (New).
	relaxed *pgxpool.Pool
	counter *counter // nil when the pool was made elsewhere (New)
}

var _ storage.Storage = (*Store)(nil)

// Open connects to databaseURL and checks that the database answers. It does not
// migrate the schema; see Migrate.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: invalid database URL: %w", err)
	}
	if !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	return open(ctx, cfg)
}

// DefaultMaxConns is the size of the synchronous pool when the database URL does
// not set pool_max_conns (pgx's own default, 4 on a 2-core machine, starves the
// token endpoint: a synchronous commit holds its connection through the WAL flush).
// The relaxed pool gets half as many. A URL's pool_max_conns sets both.
const DefaultMaxConns = 16

// open makes the pool of cfg, with the statement counter, and pings the database.
func open(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	c := &counter{}
	cfg.ConnConfig.Tracer = c
	relaxedCfg := cfg.Copy()
	relaxedCfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	if cfg.MaxConns == DefaultMaxConns {
		relaxedCfg.MaxConns = DefaultMaxConns / 2
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: cannot reach database %q on %s:%d: %w",
			cfg.ConnConfig.Database, cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	relaxed, err := pgxpool.NewWithConfig(ctx, relaxedCfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &Store{pool: pool, relaxed: relaxed, counter: c}, nil
}

// New returns a Store on pool. Close closes the pool. Its Counts stay zero: only
// Open's pools count statements.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// Counts returns how many statements and transactions the Store has sent since Open.
func (s *Store) Counts() Counts {
	if s.counter == nil {
		return Counts{}
	}
	return s.counter.counts()
}

// Pool returns the Store's pool, for instance for LISTEN/NOTIFY connections.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.pool.Ping(ctx)
}

// Close closes the pools.
func (s *Store) Close() error {
	s.pool.Close()
	if s.relaxed != nil {
		s.relaxed.Close()
	}
	return nil
}

// querier is what the methods need from either the pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

var (
	_ querier = (*pgxpool.Pool)(nil)
	_ querier = (pgx.Tx)(nil)
)

type txKey struct{}

func txFrom(ctx context.Context) (pgx.Tx, bool) {
	tx, ok := ctx.Value(txKey{}).(pgx.Tx)
	return tx, ok
}

// q returns the transaction carried by ctx, or the pool.
func (s *Store) q(ctx context.Context) querier {
	if tx, ok := txFrom(ctx); ok {
		return tx
	}
	return s.pool
}

// qRelaxed is q for the QR steps that may commit without waiting for the WAL
// flush: the transaction carried by ctx (which commits as it always does), else the
// relaxed pool.
func (s *Store) qRelaxed(ctx context.Context) querier {
	if tx, ok := txFrom(ctx); ok {
		return tx
	}
	if s.relaxed != nil {
		return s.relaxed
	}
	return s.pool
}

// errNoTx is returned by Commit and Rollback on a context without a transaction.
var errNoTx = errors.New("postgres: no transaction in context")

// BeginTX begins a transaction and returns a context carrying it.
func (s *Store) BeginTX(ctx context.Context) (context.Context, error) {
	if _, ok := txFrom(ctx); ok {
		return ctx, errors.New("postgres: transaction already in progress (transactions do not nest)")
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return ctx, fmt.Errorf("postgres: begin: %w", err)
	}
	return context.WithValue(ctx, txKey{}, tx), nil
}

// Commit commits the transaction carried by ctx.
func (s *Store) Commit(ctx context.Context) error {
	tx, ok := txFrom(ctx)
	if !ok {
		return errNoTx
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// Rollback rolls back the transaction carried by ctx. Rolling back a transaction
// that was already committed or rolled back does nothing.
func (s *Store) Rollback(ctx context.Context) error {
	tx, ok := txFrom(ctx)
	if !ok {
		return errNoTx
	}
	// A cancelled ctx must not prevent the rollback.
	err := tx.Rollback(context.WithoutCancel(ctx))
	if err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("postgres: rollback: %w", err)
	}
	return nil
}

// withTx runs fn in a transaction: a savepoint of the transaction carried by ctx, or
// a transaction of its own. fn's error is returned unchanged and undoes its work.
func (s *Store) withTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	var (
		tx  pgx.Tx
		err error
	)
	if outer, ok := txFrom(ctx); ok {
		tx, err = outer.Begin(ctx)
	} else {
		tx, err = s.pool.Begin(ctx)
	}
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	return translate(tx.Commit(ctx))
}

// translate is the one place where database errors become storage errors.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w (%s)", storage.ErrConflict, pgErr.ConstraintName)
		case "23503": // foreign_key_violation: the referenced row does not exist
			return fmt.Errorf("%w (%s)", storage.ErrNotFound, pgErr.ConstraintName)
		}
	}
	return fmt.Errorf("postgres: %w", err)
}

// expectOne turns a statement that affected no row into ErrNotFound.
func expectOne(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return storage.ErrNotFound
	}
	return nil
}

// GarbageCollect deletes, in one statement, token sessions and browser sessions that
// expired before now, retired signing keys whose ExpiresAt is before now, QR
// sessions whose ExpiresAt is before now - storage.QRSessionRetention, and audit
// events whose time is before now - storage.AuditRetention, and DPoP proof records
// that expired before now.
func (s *Store) GarbageCollect(ctx context.Context, now time.Time) (storage.GCResult, error) {
	const sql = `
WITH t AS (DELETE FROM token_sessions WHERE expires_at < $1 RETURNING 1),
     b AS (DELETE FROM browser_sessions WHERE expires_at < $1 RETURNING 1),
     k AS (DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND expires_at < $1 RETURNING 1),
     q AS (DELETE FROM qr_sessions WHERE expires_at < $2 RETURNING 1),
     a AS (DELETE FROM audit_events WHERE time < $3 RETURNING 1),
     p AS (DELETE FROM dpop_proofs WHERE expires_at < $1 RETURNING 1)
SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM b), (SELECT count(*) FROM k), (SELECT count(*) FROM q),
       (SELECT count(*) FROM a), (SELECT count(*) FROM p)`
	var r storage.GCResult
	err := s.q(ctx).QueryRow(ctx, sql, now.UTC(), now.Add(-storage.QRSessionRetention).UTC(),
		now.Add(-storage.AuditRetention).UTC()).
		Scan(&r.TokenSessions, &r.BrowserSessions, &r.SigningKeys, &r.QRSessions, &r.AuditEvents, &r.DPoPProofs)
	if err != nil {
		return storage.GCResult{}, translate(err)
	}
	return r, nil
}

// Value conversions between Go's zero values and the schema.

// optTime stores the zero time as NULL.
func optTime(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t.UTC(), Valid: true}
}

// fromOptTime returns NULL as the zero time and anything else in UTC.
func fromOptTime(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// list stores a nil list as an empty array (the columns are NOT NULL).
func list(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// fromList returns an empty array as nil.
func fromList(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return l
}

// bytes stores nil as an empty bytea (the columns are NOT NULL).
func bytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// fromBytes returns an empty bytea as nil.
func fromBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
