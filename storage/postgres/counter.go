package postgres

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/qrid/qrid/storage"
)

// Counts is storage.Counts: what a Store has sent to PostgreSQL since Open.
type Counts = storage.Counts

var _ storage.Counted = (*Store)(nil)

// counter is the pgx tracer behind Store.Counts. It sees every statement of every
// pooled connection (and of the LISTEN connection, which starts pooled) and keeps,
// per connection, whether a transaction block is open.
type counter struct {
	statements, transactions, writes atomic.Uint64
	inBlock                          sync.Map // *pgx.Conn → struct{} while a block is open
}

var _ pgx.QueryTracer = (*counter)(nil)

// TraceQueryStart classifies the statement about to be sent on conn.
func (c *counter) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	c.statements.Add(1)
	verb := firstWord(data.SQL)
	switch {
	case strings.EqualFold(verb, "begin"):
		c.inBlock.Store(conn, struct{}{})
		c.transactions.Add(1)
		c.writes.Add(1)
	case strings.EqualFold(verb, "commit"), strings.EqualFold(verb, "rollback") && !strings.Contains(strings.ToLower(data.SQL), "savepoint"):
		c.inBlock.Delete(conn)
	default:
		if _, open := c.inBlock.Load(conn); !open {
			c.transactions.Add(1)
			if !strings.EqualFold(verb, "select") {
				c.writes.Add(1)
			}
		}
	}
	return ctx
}

// TraceQueryEnd does nothing: statements are counted when sent.
func (c *counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// counts is a snapshot.
func (c *counter) counts() Counts {
	return Counts{Statements: c.statements.Load(), Transactions: c.transactions.Load(), Writes: c.writes.Load()}
}

// firstWord is the first word of a statement, after white space and comments.
func firstWord(sql string) string {
	for {
		sql = strings.TrimLeft(sql, " \t\r\n(")
		switch {
		case strings.HasPrefix(sql, "--"):
			if i := strings.IndexByte(sql, '\n'); i >= 0 {
				sql = sql[i+1:]
				continue
			}
			return ""
		case strings.HasPrefix(sql, "/*"):
			if i := strings.Index(sql, "*/"); i >= 0 {
				sql = sql[i+2:]
				continue
			}
			return ""
		}
		end := strings.IndexFunc(sql, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == ';' || r == '(' })
		if end < 0 {
			return sql
		}
		return sql[:end]
	}
}
