package postgres

// Test support, for the tests of this package and of every package that wants a real
// PostgreSQL store (the provider's end-to-end and multi-node tests). The server never
// calls these functions.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultTestDatabaseURL is used by tests when QRID_TEST_DATABASE_URL is unset.
const DefaultTestDatabaseURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// probeTestDatabase connects once per test binary to the test server.
var probeTestDatabase = sync.OnceValues(func() (string, error) {
	u := os.Getenv("QRID_TEST_DATABASE_URL")
	if u == "" {
		u = DefaultTestDatabaseURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return u, err
	}
	defer conn.Close(ctx)
	return u, conn.Ping(ctx)
})

// TestDatabaseURL returns the URL of the PostgreSQL server tests use:
// QRID_TEST_DATABASE_URL, else DefaultTestDatabaseURL. When nothing answers there it
// skips t with a loud message, or fails t when QRID_REQUIRE_POSTGRES=1.
func TestDatabaseURL(t testing.TB) string {
	t.Helper()
	u, err := probeTestDatabase()
	if err != nil {
		msg := fmt.Sprintf("!!! PostgreSQL is not reachable at %s: %v", redactURL(u), err)
		if os.Getenv("QRID_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("%s (QRID_REQUIRE_POSTGRES=1)", msg)
		}
		t.Skipf("%s\n!!! SKIPPING this PostgreSQL test. Set QRID_TEST_DATABASE_URL to a reachable server; QRID_REQUIRE_POSTGRES=1 makes this a failure.", msg)
	}
	return u
}

// NewTestDatabase creates a fresh schema named qrid_test_<random> on the test server,
// migrates it, and returns a database URL whose connections use it (its search_path
// names only that schema). The schema and everything in it are dropped when t ends.
// Several Stores opened on the URL share the data, as nodes of one deployment do.
func NewTestDatabase(t testing.TB) string {
	t.Helper()
	base := TestDatabaseURL(t)
	schema := newTestSchema(t, base)
	u, err := withSearchPath(base, schema)
	if err != nil {
		t.Fatalf("postgres test database: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Migrate(ctx, u); err != nil {
		t.Fatalf("postgres test database: %v", err)
	}
	return u
}

// NewTestUnmigratedDatabase is NewTestDatabase without the migrations: the schema is
// empty.
func NewTestUnmigratedDatabase(t testing.TB) string {
	t.Helper()
	base := TestDatabaseURL(t)
	u, err := withSearchPath(base, newTestSchema(t, base))
	if err != nil {
		t.Fatalf("postgres test database: %v", err)
	}
	return u
}

// NewTestStore opens a Store on a fresh NewTestDatabase; it is closed when t ends.
func NewTestStore(t testing.TB) *Store {
	t.Helper()
	return OpenTestStore(t, NewTestDatabase(t))
}

// OpenTestStore opens another Store on a URL from NewTestDatabase (another node of
// the same deployment); it is closed when t ends.
func OpenTestStore(t testing.TB, databaseURL string) *Store {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		t.Fatalf("postgres test store: %v", err)
	}
	// Room for the conformance suite's concurrent calls and open transactions.
	cfg.MaxConns = 16
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := open(ctx, cfg)
	if err != nil {
		t.Fatalf("postgres test store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newTestSchema creates an empty schema and drops it when t ends.
func newTestSchema(t testing.TB, base string) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "qrid_test_" + hex.EncodeToString(b[:])
	ident := pgx.Identifier{schema}.Sanitize()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("postgres test schema: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+ident); err != nil {
		t.Fatalf("postgres test schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("postgres test schema: dropping %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+ident+` CASCADE`); err != nil {
			t.Errorf("postgres test schema: dropping %s: %v", schema, err)
		}
	})
	return schema
}

// withSearchPath returns databaseURL with its connections' search_path set to schema
// (a URL's query parameter, or a keyword/value connection string's setting).
func withSearchPath(databaseURL, schema string) (string, error) {
	if strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://") {
		u, err := url.Parse(databaseURL)
		if err != nil {
			return "", fmt.Errorf("invalid database URL: %w", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return databaseURL + " search_path=" + schema, nil
}

// redactURL hides a password in a database URL for messages.
func redactURL(databaseURL string) string {
	if u, err := url.Parse(databaseURL); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "the configured database"
}
