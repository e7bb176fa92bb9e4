package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/qrid/qrid/storage"
)

var _ storage.QRNotifier = (*Store)(nil)

// qrChannelSQL names the NOTIFY channel of QR session changes: "qrid_qr_" followed by
// the current schema, so that deployments (or tests) sharing one database in
// different schemas do not hear each other, since PostgreSQL channels are
// database-wide. A schema name too long for a channel name (63 bytes) is replaced by
// the first 32 hex digits of its SHA-256. The expression is evaluated by the
// statement that notifies and by the listener, on connections of the same URL, so
// both agree.
const qrChannelSQL = `(CASE WHEN octet_length(current_schema()) <= 55
	THEN 'qrid_qr_' || current_schema()
	ELSE 'qrid_qr_' || left(encode(sha256(convert_to(current_schema(), 'UTF8')), 'hex'), 32) END)`

// Reconnection back-off of ListenQR.
const (
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 5 * time.Second
)

// ListenQR listens to the QR channel on a connection of its own (taken from the pool
// and then detached from it, so it never holds a pooled slot) and calls changed with
// the ID and version of every QR session change committed by any node using this
// database and schema. Changes are delivered in commit order, one call at a time.
//
// ready is called once the first LISTEN is in place: a change committed after ready
// returns is delivered. If the connection fails (or cannot be made at first),
// ListenQR waits, 100 ms doubling up to 5 s, and tries again until ctx ends; after
// each successful reconnection it calls reconnected (if not nil), since changes made
// meanwhile were not delivered. Malformed payloads are logged and skipped. When ctx
// ends ListenQR closes its connection and returns ctx.Err().
func (s *Store) ListenQR(ctx context.Context, ready func(), reconnected func(), changed func(id string, version int64)) error {
	log := slog.Default().With("component", "postgres.ListenQR")
	backoff := listenMinBackoff
	listening := false
	for {
		conn, channel, err := s.listenConn(ctx)
		if err == nil {
			backoff = listenMinBackoff
			switch {
			case !listening:
				listening = true
				if ready != nil {
					ready()
				}
			case reconnected != nil:
				reconnected()
			}
			err = receiveQR(ctx, conn, log, changed)
			closeConn(conn)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn("QR change notifications interrupted; reconnecting", "channel", channel, "retry_in", backoff, "error", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, listenMaxBackoff)
	}
}

// listenConn takes a connection out of the pool for good and makes it LISTEN on the
// QR channel, which it returns with the connection.
func (s *Store) listenConn(ctx context.Context) (*pgx.Conn, string, error) {
	pooled, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("postgres: acquiring a listener connection: %w", err)
	}
	conn := pooled.Hijack()
	var channel string
	if err := conn.QueryRow(ctx, `SELECT `+qrChannelSQL).Scan(&channel); err != nil {
		closeConn(conn)
		return nil, "", fmt.Errorf("postgres: naming the QR channel: %w", err)
	}
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{channel}.Sanitize()); err != nil {
		closeConn(conn)
		return nil, channel, fmt.Errorf("postgres: LISTEN %s: %w", channel, err)
	}
	return conn, channel, nil
}

// receiveQR delivers the notifications conn receives until ctx ends or the
// connection fails, and returns why it stopped.
func receiveQR(ctx context.Context, conn *pgx.Conn, log *slog.Logger, changed func(id string, version int64)) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		id, version, err := parseQRPayload(n.Payload)
		if err != nil {
			log.Warn("ignoring a malformed QR change notification", "channel", n.Channel, "payload", n.Payload, "error", err)
			continue
		}
		changed(id, version)
	}
}

// parseQRPayload reads "id:version". The version follows the last colon.
func parseQRPayload(payload string) (string, int64, error) {
	i := strings.LastIndexByte(payload, ':')
	if i <= 0 {
		return "", 0, errors.New(`want "id:version"`)
	}
	version, err := strconv.ParseInt(payload[i+1:], 10, 64)
	if err != nil || version < 1 {
		return "", 0, fmt.Errorf("invalid version %q", payload[i+1:])
	}
	return payload[:i], version, nil
}

// closeConn closes a listener connection, even when the context that used it has
// ended, without waiting long for a server that does not answer.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
