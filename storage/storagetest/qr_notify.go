package storagetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/qrid/qrid/storage"
)

// notifyDeadline bounds every wait for a notification (or its absence is shown by a
// later one). It is a deadline for a failing test, not a measured timing.
const notifyDeadline = 30 * time.Second

// QRChange is one (ID, Version) pair heard by a QR listener.
type QRChange struct {
	ID      string
	Version int64
}

// QRListener is a running storage.QRNotifier.ListenQR call whose changes are queued
// on a channel, for tests.
type QRListener struct {
	changes     chan QRChange
	reconnected chan struct{}
	cancel      context.CancelFunc
	done        chan error
	stopped     bool
}

// StartQRListener starts n.ListenQR and returns once it is ready. The listener is
// stopped when t ends, and t fails if ListenQR then returns anything but the
// context's error.
func StartQRListener(t testing.TB, n storage.QRNotifier) *QRListener {
	t.Helper()
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	l := &QRListener{
		changes:     make(chan QRChange, 1024),
		reconnected: make(chan struct{}, 16),
		cancel:      cancel,
		done:        make(chan error, 1),
	}
	ready := make(chan struct{})
	go func() {
		l.done <- n.ListenQR(ctx, func() { close(ready) },
			func() {
				select {
				case l.reconnected <- struct{}{}:
				default:
				}
			},
			func(id string, version int64) {
				select {
				case l.changes <- QRChange{id, version}:
				case <-ctx.Done():
				}
			})
	}()
	select {
	case <-ready:
	case err := <-l.done:
		cancel()
		t.Fatalf("ListenQR returned before it was ready: %v", err)
	case <-time.After(notifyDeadline):
		cancel()
		t.Fatalf("ListenQR was not ready within %v", notifyDeadline)
	}
	t.Cleanup(func() {
		if err := l.Stop(); !errors.Is(err, context.Canceled) {
			t.Errorf("ListenQR returned %v when its context was cancelled, want context.Canceled", err)
		}
	})
	return l
}

// Stop cancels the listener's context and returns what ListenQR returned (a second
// Stop returns context.Canceled).
func (l *QRListener) Stop() error {
	if l.stopped {
		return context.Canceled
	}
	l.stopped = true
	l.cancel()
	select {
	case err := <-l.done:
		return err
	case <-time.After(notifyDeadline):
		return fmt.Errorf("ListenQR did not return within %v of its context's end", notifyDeadline)
	}
}

// Next returns the next change heard about one of ids (changes of other sessions
// are skipped), failing t if none comes before the deadline.
func (l *QRListener) Next(t testing.TB, ids ...string) QRChange {
	t.Helper()
	deadline := time.After(notifyDeadline)
	for {
		select {
		case c := <-l.changes:
			for _, id := range ids {
				if c.ID == id {
					return c
				}
			}
		case <-deadline:
			t.Fatalf("no change of %v heard within %v", ids, notifyDeadline)
			return QRChange{}
		}
	}
}

// Expect fails t unless the next changes heard about the sessions of want are want,
// in order.
func (l *QRListener) Expect(t testing.TB, want ...QRChange) {
	t.Helper()
	ids := make([]string, 0, len(want))
	for _, c := range want {
		ids = append(ids, c.ID)
	}
	for i, w := range want {
		if got := l.Next(t, ids...); got != w {
			t.Fatalf("change %d heard: %+v, want %+v", i+1, got, w)
		}
	}
}

// Reconnected waits until the listener reports a reconnection, failing t if none
// comes before the deadline.
func (l *QRListener) Reconnected(t testing.TB) {
	t.Helper()
	select {
	case <-l.reconnected:
	case <-time.After(notifyDeadline):
		t.Fatalf("no reconnection reported within %v", notifyDeadline)
	}
}

// notifierOf returns s as a storage.QRNotifier, skipping t if s is not one.
func notifierOf(t *testing.T, s storage.Storage) storage.QRNotifier {
	t.Helper()
	n, ok := s.(storage.QRNotifier)
	if !ok {
		t.Skipf("%T does not implement storage.QRNotifier", s)
	}
	return n
}

// setInterval is an update that sets the interval.
func setInterval(seconds int) func(storage.QRSession) (storage.QRSession, error) {
	return func(old storage.QRSession) (storage.QRSession, error) {
		old.Interval = seconds
		return old, nil
	}
}

func qrNotificationScenarios() []scenario {
	return []scenario{
		{"create_and_each_update_are_heard_in_order", func(t *testing.T, s storage.Storage) {
			l := StartQRListener(t, notifierOf(t, s))
			mustCreateOwners(t, s, []string{"c1"}, nil)
			mustCreateQRSession(t, s, sampleQRSession("q1", "c1"))
			for i := range 3 {
				_, err := s.UpdateQRSession(t.Context(), "q1", setInterval(10+i))
				must(t, err, "UpdateQRSession")
			}
			l.Expect(t, QRChange{"q1", 1}, QRChange{"q1", 2}, QRChange{"q1", 3}, QRChange{"q1", 4})
		}},
		{"changes_of_several_sessions_keep_their_order", func(t *testing.T, s storage.Storage) {
			l := StartQRListener(t, notifierOf(t, s))
			mustCreateOwners(t, s, []string{"c1"}, nil)
			mustCreateQRSession(t, s, sampleQRSession("q1", "c1"))
			mustCreateQRSession(t, s, sampleQRSession("q2", "c1"))
			_, err := s.UpdateQRSession(t.Context(), "q2", setInterval(10))
			must(t, err, "UpdateQRSession q2")
			_, err = s.UpdateQRSession(t.Context(), "q1", setInterval(10))
			must(t, err, "UpdateQRSession q1")
			l.Expect(t, QRChange{"q1", 1}, QRChange{"q2", 1}, QRChange{"q2", 2}, QRChange{"q1", 2})
		}},
		{"every_listener_hears_every_change", func(t *testing.T, s storage.Storage) {
			n := notifierOf(t, s)
			first, second := StartQRListener(t, n), StartQRListener(t, n)
			mustCreateOwners(t, s, []string{"c1"}, nil)
			mustCreateQRSession(t, s, sampleQRSession("q1", "c1"))
			_, err := s.UpdateQRSession(t.Context(), "q1", setInterval(10))
			must(t, err, "UpdateQRSession")
			first.Expect(t, QRChange{"q1", 1}, QRChange{"q1", 2})
			second.Expect(t, QRChange{"q1", 1}, QRChange{"q1", 2})
		}},
		{"refused_and_rolled_back_changes_are_not_heard", func(t *testing.T, s storage.Storage) {
			l := StartQRListener(t, notifierOf(t, s))
			mustCreateOwners(t, s, []string{"c1"}, nil)
			mustCreateQRSession(t, s, sampleQRSession("q1", "c1"))
			l.Expect(t, QRChange{"q1", 1})

			_, err := s.UpdateQRSession(t.Context(), "q1", func(old storage.QRSession) (storage.QRSession, error) {
				return old, errStateMoved
			})
			mustBe(t, err, errStateMoved, "UpdateQRSession refused")
			tx, err := s.BeginTX(t.Context())
			must(t, err, "BeginTX")
			_, err = s.UpdateQRSession(tx, "q1", setInterval(10))
			must(t, err, "UpdateQRSession inside")
			must(t, s.CreateQRSession(tx, sampleQRSession("q-rolled-back", "c1")), "CreateQRSession inside")
			must(t, s.Rollback(tx), "Rollback")
			// Changes are heard in the order they were made: once the marker is
			// heard, anything the refused or rolled-back calls published would have
			// been heard before it.
			mustCreateQRSession(t, s, sampleQRSession("marker", "c1"))
			if got := l.Next(t, "q1", "q-rolled-back", "marker"); got != (QRChange{"marker", 1}) {
				t.Fatalf("heard %+v before the marker's creation: a refused or rolled-back change was published", got)
			}
		}},
		{"swaps_are_heard_but_not_consumption", func(t *testing.T, s storage.Storage) {
			l := StartQRListener(t, notifierOf(t, s))
			mustCreateOwners(t, s, []string{"c1"}, nil)
			old := sampleQRSession("q1", "c1")
			mustCreateQRSession(t, s, old)
			approved := old
			approved.State = storage.QRApproved
			stored, err := s.SwapQRSession(t.Context(), old, approved)
			must(t, err, "SwapQRSession to approved")
			l.Expect(t, QRChange{"q1", 1}, QRChange{"q1", 2})
			consumed := stored
			consumed.State = storage.QRConsumed
			_, err = s.SwapQRSession(t.Context(), stored, consumed)
			must(t, err, "SwapQRSession to consumed")
			mustCreateQRSession(t, s, sampleQRSession("marker", "c1"))
			if got := l.Next(t, "q1", "marker"); got != (QRChange{"marker", 1}) {
				t.Fatalf("heard %+v before the marker's creation: the consumption was published", got)
			}
		}},
		{"change_in_a_transaction_is_heard_after_commit", func(t *testing.T, s storage.Storage) {
			l := StartQRListener(t, notifierOf(t, s))
			mustCreateOwners(t, s, []string{"c1"}, nil)
			mustCreateQRSession(t, s, sampleQRSession("q1", "c1"))
			l.Expect(t, QRChange{"q1", 1})
			tx, err := s.BeginTX(t.Context())
			must(t, err, "BeginTX")
			_, err = s.UpdateQRSession(tx, "q1", setInterval(10))
			must(t, err, "UpdateQRSession inside")
			_, err = s.UpdateQRSession(tx, "q1", setInterval(15))
			must(t, err, "UpdateQRSession inside again")
			must(t, s.Commit(tx), "Commit")
			l.Expect(t, QRChange{"q1", 2}, QRChange{"q1", 3})
			got, err := s.GetQRSession(t.Context(), "q1")
			must(t, err, "GetQRSession")
			if got.Interval != 15 || got.Version != 3 {
				t.Errorf("after commit: Interval %d, Version %d; want 15 and 3", got.Interval, got.Version)
			}
		}},
		{"listen_returns_the_context_error_when_it_ends", func(t *testing.T, s storage.Storage) {
			l := StartQRListener(t, notifierOf(t, s))
			if err := l.Stop(); !errors.Is(err, context.Canceled) {
				t.Fatalf("ListenQR returned %v, want context.Canceled", err)
			}
			// The store works on without the listener.
			mustCreateOwners(t, s, []string{"c1"}, nil)
			mustCreateQRSession(t, s, sampleQRSession("q1", "c1"))
			_, err := s.UpdateQRSession(t.Context(), "q1", setInterval(10))
			must(t, err, "UpdateQRSession")
		}},
	}
}
