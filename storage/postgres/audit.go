package postgres

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/qrid/qrid/storage"
)

const auditColumns = `id, time, type, account_id, client_id, device_id, ip, detail`

// AppendAuditEvent stores e; ErrConflict if e.ID is taken.
func (s *Store) AppendAuditEvent(ctx context.Context, e storage.AuditEvent) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO audit_events (`+auditColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.ID, e.Time.UTC(), e.Type, e.AccountID, e.ClientID, e.DeviceID, e.IP, e.Detail)
	return translate(err)
}

// ListAuditEvents returns the events q selects ordered by time, newest first, then
// by ID, greatest first. Only the filters q sets are in the statement, so the
// planner can use the (account_id, time) or (type, time) index even for a cached
// generic plan.
func (s *Store) ListAuditEvents(ctx context.Context, q storage.AuditQuery) ([]storage.AuditEvent, error) {
	var (
		where []string
		args  []any
	)
	arg := func(column, op string, v any) {
		args = append(args, v)
		where = append(where, column+" "+op+" $"+strconv.Itoa(len(args)))
	}
	if q.AccountID != "" {
		arg("account_id", "=", q.AccountID)
	}
	if q.Type != "" {
		arg("type", "=", q.Type)
	}
	if !q.Since.IsZero() {
		arg("time", ">=", q.Since.UTC())
	}
	limit := q.Limit
	if limit < 1 || limit > storage.AuditMaxLimit {
		limit = storage.AuditMaxLimit
	}
	sql := `SELECT ` + auditColumns + ` FROM audit_events`
	if len(where) > 0 {
		sql += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	sql += ` ORDER BY time DESC, id DESC LIMIT $` + strconv.Itoa(len(args))
	rows, err := s.q(ctx).Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err)
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.AuditEvent, error) {
		var e storage.AuditEvent
		err := r.Scan(&e.ID, &e.Time, &e.Type, &e.AccountID, &e.ClientID, &e.DeviceID, &e.IP, &e.Detail)
		e.Time = e.Time.UTC()
		return e, err
	})
	return events, translate(err)
}
