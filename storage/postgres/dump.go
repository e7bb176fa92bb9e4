package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// DumpForTest returns every row of every table in the store's schema as text, with
// byte columns both raw and as written, for tests that check what a database leak
// would reveal. It is for tests only.
func DumpForTest(t testing.TB, s *Store) string {
	t.Helper()
	ctx := context.Background()
	rows, err := s.pool.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	var out strings.Builder
	for _, table := range tables {
		rows, err := s.pool.Query(ctx, "SELECT * FROM "+pgx.Identifier{table}.Sanitize())
		if err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		for rows.Next() {
			values, err := rows.Values()
			if err != nil {
				rows.Close()
				t.Fatalf("read %s: %v", table, err)
			}
			fmt.Fprintf(&out, "%s:", table)
			for _, v := range values {
				if b, ok := v.([]byte); ok {
					fmt.Fprintf(&out, " %s", b)
					continue
				}
				fmt.Fprintf(&out, " %v", v)
			}
			out.WriteByte('\n')
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
	}
	return out.String()
}
