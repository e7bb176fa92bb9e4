package storeguard

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsConnectionError reports whether err says the store could not be reached or the
// connection to it broke, as opposed to an answer from a working store (not found,
// a conflict, a constraint) or a caller that gave up (context.Canceled):
//
//   - a connection could not be made (*pgconn.ConnectError), or a connection was
//     found closed (pgconn.ErrConnClosed);
//   - a network error (net.Error) or a connection cut in the middle of a message
//     (io.EOF, io.ErrUnexpectedEOF);
//   - a deadline passed (context.DeadlineExceeded, pgconn.Timeout): a store that
//     does not answer in time is, for its callers, not there;
//   - PostgreSQL itself saying it cannot serve: SQLSTATE class 08 (connection
//     exception), 57P01–57P03 (shutting down, cannot connect now) and 53300 (too many
//     connections).
//
// It looks through wrapped errors, so a storage backend's wrapping keeps it working.
func IsConnectionError(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || errors.Is(err, pgconn.ErrConnClosed) || pgconn.Timeout(err) {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection_exception and its subclasses
			pgErr.Code == "57P01", // admin_shutdown
			pgErr.Code == "57P02", // crash_shutdown
			pgErr.Code == "57P03", // cannot_connect_now
			pgErr.Code == "53300": // too_many_connections
			return true
		}
	}
	return false
}
