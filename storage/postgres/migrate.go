package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"

	"github.com/qrid/qrid/migrations"
)

// versionTable is tern's version table, kept in the connection's current schema.
const versionTable = "schema_version"

// MigrationState says where a database's schema stands. (It is returned by
// MigrationStatus; Go does not allow the type and the function one name.)
type MigrationState struct {
	// Current is the version applied (0 for an empty database).
	Current int32
	// Latest is the version this binary brings.
	Latest int32
	// Pending names the migrations not yet applied, in order.
	Pending []string
}

// Migrate brings the schema of databaseURL's current schema up to date. It is
// idempotent, and safe when several nodes start at once: the whole run holds a
// PostgreSQL advisory lock keyed by the schema, so the first node migrates and the
// others then find nothing to do.
func Migrate(ctx context.Context, databaseURL string) (err error) {
	conn, schema, err := connectForMigrations(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	// Session-level lock: released explicitly, or by the server when conn closes.
	const lockKey = `hashtextextended('qrid migrations ' || $1, 0)`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lockKey+`)`, schema); err != nil {
		return fmt.Errorf("postgres: migrate: taking the migration lock: %w", err)
	}
	defer func() {
		_, unlockErr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lockKey+`)`, schema)
		if err == nil && unlockErr != nil {
			err = fmt.Errorf("postgres: migrate: releasing the migration lock: %w", unlockErr)
		}
	}()

	m, err := migrate.NewMigrator(ctx, conn, qualifiedVersionTable(schema))
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if err := m.LoadMigrations(migrations.FS); err != nil {
		return fmt.Errorf("postgres: migrate: loading migrations: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// MigrationStatus reports the applied and pending migrations of databaseURL's
// current schema without changing anything (it does not create the version table).
func MigrationStatus(ctx context.Context, databaseURL string) (MigrationState, error) {
	conn, schema, err := connectForMigrations(ctx, databaseURL)
	if err != nil {
		return MigrationState{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	// A migrator without a connection only loads and parses the files.
	m, err := migrate.NewMigrator(ctx, nil, versionTable)
	if err != nil {
		return MigrationState{}, fmt.Errorf("postgres: migration status: %w", err)
	}
	if err := m.LoadMigrations(migrations.FS); err != nil {
		return MigrationState{}, fmt.Errorf("postgres: migration status: loading migrations: %w", err)
	}

	var st MigrationState
	st.Latest = int32(len(m.Migrations))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables
		WHERE schemaname = $1 AND tablename = $2)`, schema, versionTable).Scan(&exists); err != nil {
		return MigrationState{}, fmt.Errorf("postgres: migration status: %w", err)
	}
	if exists {
		ident := pgx.Identifier{schema, versionTable}.Sanitize()
		if err := conn.QueryRow(ctx, `SELECT version FROM `+ident).Scan(&st.Current); err != nil {
			return MigrationState{}, fmt.Errorf("postgres: migration status: reading %s: %w", ident, err)
		}
	}
	if st.Current < 0 || st.Current > st.Latest {
		return st, fmt.Errorf("postgres: migration status: database is at version %d, this qrid knows versions 0 to %d", st.Current, st.Latest)
	}
	for _, mig := range m.Migrations[st.Current:] {
		st.Pending = append(st.Pending, mig.Name)
	}
	return st, nil
}

// connectForMigrations opens one connection and returns it with its current schema.
// The URL is parsed as the server's pool parses it, so that pool settings in it
// (pool_max_conns and the like) are accepted, not sent to PostgreSQL.
func connectForMigrations(ctx context.Context, databaseURL string) (*pgx.Conn, string, error) {
	poolCfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, "", fmt.Errorf("postgres: invalid database URL: %w", err)
	}
	cfg := poolCfg.ConnConfig
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, "", fmt.Errorf("postgres: cannot reach database %q on %s:%d: %w",
			cfg.Database, cfg.Host, cfg.Port, err)
	}
	var schema *string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, "", fmt.Errorf("postgres: reading the current schema: %w", err)
	}
	if schema == nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, "", errors.New("postgres: no current schema: the search_path names no existing schema")
	}
	return conn, *schema, nil
}

// plainIdentifier matches schema names that need no quoting.
var plainIdentifier = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// qualifiedVersionTable names the version table in schema. tern splits a qualified
// name at the dot without unquoting, so a schema name that would need quotes is left
// to the search_path instead (it is the current schema either way).
func qualifiedVersionTable(schema string) string {
	if plainIdentifier.MatchString(schema) {
		return schema + "." + versionTable
	}
	return versionTable
}
