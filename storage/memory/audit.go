package memory

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/qrid/qrid/storage"
)

// AppendAuditEvent stores e; storage.ErrConflict if e.ID is taken.
func (s *Store) AppendAuditEvent(ctx context.Context, e storage.AuditEvent) error {
	return s.write(ctx, func(d *data, u *undoLog) error {
		if _, ok := d.auditEvents[e.ID]; ok {
			return storage.ErrConflict
		}
		put(u, d.auditEvents, e.ID, e)
		return nil
	})
}

// ListAuditEvents returns the events q selects ordered by Time, newest first, then
// by ID, greatest first. It scans every event: the memory backend is for single
// nodes and development, where the trail is small.
func (s *Store) ListAuditEvents(ctx context.Context, q storage.AuditQuery) ([]storage.AuditEvent, error) {
	events := []storage.AuditEvent{}
	err := s.read(ctx, func(d *data) error {
		for _, e := range d.auditEvents {
			if (q.AccountID == "" || e.AccountID == q.AccountID) &&
				(q.Type == "" || e.Type == q.Type) &&
				(q.Since.IsZero() || !e.Time.Before(q.Since)) {
				events = append(events, e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(events, func(a, b storage.AuditEvent) int {
		return cmp.Or(b.Time.Compare(a.Time), cmp.Compare(b.ID, a.ID))
	})
	return events[:min(len(events), auditLimit(q.Limit))], nil
}

// auditLimit applies storage.AuditQuery's rule for Limit.
func auditLimit(limit int) int {
	if limit < 1 || limit > storage.AuditMaxLimit {
		return storage.AuditMaxLimit
	}
	return limit
}

// collectAuditEvents removes the events older than cutoff and counts them.
func (d *data) collectAuditEvents(u *undoLog, cutoff time.Time) int64 {
	var n int64
	for id, e := range d.auditEvents {
		if e.Time.Before(cutoff) {
			remove(u, d.auditEvents, id)
			n++
		}
	}
	return n
}
