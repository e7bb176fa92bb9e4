package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/postgres"
	"github.com/qrid/qrid/storage/storagetest"
)

// waitDeadline bounds the waits for the server to notice a change of connections.
const waitDeadline = 30 * time.Second

func mustQRSession(t *testing.T, s *postgres.Store, id, clientID string) {
	t.Helper()
	qs := storage.QRSession{ID: id, Kind: "device", DeviceCodeDigest: "dc-" + id, UserCodeDigest: "uc-" + id,
		ClientID: clientID, State: storage.QRPending, Interval: 5, CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
	if err := s.CreateQRSession(t.Context(), qs); err != nil {
		t.Fatalf("CreateQRSession(%s): %v", id, err)
	}
}

func mustBumpInterval(t *testing.T, s *postgres.Store, id string) {
	t.Helper()
	_, err := s.UpdateQRSession(t.Context(), id, func(old storage.QRSession) (storage.QRSession, error) {
		old.Interval += 5
		return old, nil
	})
	if err != nil {
		t.Fatalf("UpdateQRSession(%s): %v", id, err)
	}
}

// listenerPIDs returns the server processes of the connections listening to s's QR
// channel (their last statement was a LISTEN naming s's schema).
func listenerPIDs(t *testing.T, s *postgres.Store) []uint32 {
	t.Helper()
	rows, err := s.Pool().Query(t.Context(), `SELECT pid FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND query LIKE 'LISTEN %' AND strpos(query, current_schema()) > 0
		ORDER BY pid`)
	if err != nil {
		t.Fatalf("listing listeners: %v", err)
	}
	defer rows.Close()
	var pids []uint32
	for rows.Next() {
		var pid uint32
		if err := rows.Scan(&pid); err != nil {
			t.Fatalf("listing listeners: %v", err)
		}
		pids = append(pids, pid)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("listing listeners: %v", err)
	}
	return pids
}

// waitForListeners waits until cond holds of s's listener processes, failing t at
// the deadline. The server notices connections come and go asynchronously.
func waitForListeners(t *testing.T, s *postgres.Store, what string, cond func(pids []uint32) bool) []uint32 {
	t.Helper()
	deadline := time.After(waitDeadline)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		pids := listenerPIDs(t, s)
		if cond(pids) {
			return pids
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("listener connections %v: still not %s after %v", pids, what, waitDeadline)
		}
	}
}

func TestListenQR(t *testing.T) {
	t.Run("ok/change_through_one_node_is_heard_on_another", func(t *testing.T) {
		t.Parallel()
		u := postgres.NewTestDatabase(t)
		a, b := postgres.OpenTestStore(t, u), postgres.OpenTestStore(t, u)
		onA, onB := storagetest.StartQRListener(t, a), storagetest.StartQRListener(t, b)
		mustClient(t, b, "c1")
		mustQRSession(t, b, "q1", "c1")
		mustBumpInterval(t, b, "q1")
		mustBumpInterval(t, a, "q1")
		want := []storagetest.QRChange{{ID: "q1", Version: 1}, {ID: "q1", Version: 2}, {ID: "q1", Version: 3}}
		onA.Expect(t, want...)
		onB.Expect(t, want...)
	})

	t.Run("ok/schemas_of_one_database_do_not_hear_each_other", func(t *testing.T) {
		t.Parallel()
		here, there := postgres.NewTestStore(t), postgres.NewTestStore(t)
		l := storagetest.StartQRListener(t, here)
		for _, s := range []*postgres.Store{there, here} {
			mustClient(t, s, "c1")
		}
		mustQRSession(t, there, "q1", "c1")
		mustBumpInterval(t, there, "q1")
		// there's changes were committed first: had they been heard here, they
		// would come before the marker.
		mustQRSession(t, here, "marker", "c1")
		if got := l.Next(t, "q1", "marker"); got != (storagetest.QRChange{ID: "marker", Version: 1}) {
			t.Fatalf("heard %+v, a change made in another schema", got)
		}
	})

	t.Run("ok/malformed_payloads_are_skipped", func(t *testing.T) {
		t.Parallel()
		s := postgres.NewTestStore(t)
		l := storagetest.StartQRListener(t, s)
		for _, payload := range []string{"garbage", "q1:", "q1:two", "q1:0", ":7", ""} {
			if _, err := s.Pool().Exec(t.Context(), `SELECT pg_notify('qrid_qr_' || current_schema(), $1)`, payload); err != nil {
				t.Fatalf("pg_notify %q: %v", payload, err)
			}
		}
		mustClient(t, s, "c1")
		mustQRSession(t, s, "q1", "c1")
		l.Expect(t, storagetest.QRChange{ID: "q1", Version: 1})
	})

	t.Run("ok/reconnects_after_losing_its_connection", func(t *testing.T) {
		t.Parallel()
		s := postgres.NewTestStore(t)
		l := storagetest.StartQRListener(t, s)
		pids := waitForListeners(t, s, "exactly one", func(pids []uint32) bool { return len(pids) == 1 })
		var terminated bool
		if err := s.Pool().QueryRow(t.Context(), `SELECT pg_terminate_backend($1)`, pids[0]).Scan(&terminated); err != nil || !terminated {
			t.Fatalf("pg_terminate_backend(%d): %v, %v", pids[0], terminated, err)
		}
		l.Reconnected(t)
		waitForListeners(t, s, "one new connection", func(now []uint32) bool {
			return len(now) == 1 && now[0] != pids[0]
		})
		mustClient(t, s, "c1")
		mustQRSession(t, s, "q1", "c1")
		mustBumpInterval(t, s, "q1")
		l.Expect(t, storagetest.QRChange{ID: "q1", Version: 1}, storagetest.QRChange{ID: "q1", Version: 2})
	})

	t.Run("ok/cancel_returns_and_closes_the_connection", func(t *testing.T) {
		t.Parallel()
		s := postgres.NewTestStore(t)
		l := storagetest.StartQRListener(t, s)
		waitForListeners(t, s, "exactly one", func(pids []uint32) bool { return len(pids) == 1 })
		if err := l.Stop(); !errors.Is(err, context.Canceled) {
			t.Fatalf("ListenQR returned %v, want context.Canceled", err)
		}
		waitForListeners(t, s, "gone", func(pids []uint32) bool { return len(pids) == 0 })
		if st := s.Pool().Stat(); st.AcquiredConns() != 0 {
			t.Errorf("%d pool connections still acquired after ListenQR returned", st.AcquiredConns())
		}
	})

	t.Run("fail/unreachable_database_retries_until_the_context_ends", func(t *testing.T) {
		t.Parallel()
		pool, err := pgxpool.New(t.Context(), "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=10")
		if err != nil {
			t.Fatal(err)
		}
		s := postgres.New(pool)
		defer s.Close()
		// Long enough for a few attempts (the connection is refused at once), so
		// ListenQR goes through its back-off before the context ends.
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		var readyCalled bool
		go func() {
			done <- s.ListenQR(ctx, func() { readyCalled = true }, nil, func(string, int64) {})
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("ListenQR returned %v, want context.DeadlineExceeded", err)
			}
		case <-time.After(waitDeadline):
			t.Fatalf("ListenQR did not return within %v of its context's end", waitDeadline)
		}
		if readyCalled {
			t.Error("ready was called without a connection")
		}
	})
}
