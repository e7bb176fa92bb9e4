package qr

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestLeakPollCanceled: clients that go away in the middle of a long-poll (their
// request context ends) are answered at once, are no longer counted as held, and
// leave no goroutine behind — also when the session changes at the same moment.
func TestLeakPollCanceled(t *testing.T) {
	for _, tc := range []struct {
		name string
		// change, when set, changes session i while its poll is being canceled.
		change bool
	}{
		{name: "ok/cancel_mid_poll"},
		{name: "ok/cancel_racing_a_scan", change: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			svc, _, _ := newTestService(t)
			const polls = 3 // newTestService's cap on pending sessions per client
			auths := make([]Authorization, polls)
			cancels := make([]context.CancelFunc, polls)
			errs := make(chan error, polls)
			for i := range polls {
				a, err := svc.Authorize(context.Background(), AuthorizeRequest{ClientID: "tv", Scopes: []string{"openid"}})
				if err != nil {
					t.Fatal(err)
				}
				auths[i] = a
				ctx, cancel := context.WithCancel(context.Background())
				cancels[i] = cancel
				go func() {
					_, err := svc.Poll(ctx, "tv", a.DeviceCode, 25*time.Second)
					errs <- err
				}()
			}
			waitFor(t, "every poll held", func() bool { return svc.HeldPolls() == polls })

			scans := make(chan error, polls)
			for i := range polls {
				if tc.change {
					go func() {
						_, err := svc.Scan(context.Background(), ScanRequest{QR: auths[i].VerificationURIComplete, AccountID: "alice", DeviceID: "phone"})
						scans <- err
					}()
				}
				cancels[i]()
			}
			deadline := time.After(10 * time.Second)
			for range polls {
				select {
				case err := <-errs:
					// A poll woken by the scan before it saw the cancellation answers
					// the news; otherwise it reports the cancellation.
					if err != nil && !errors.Is(err, context.Canceled) {
						t.Fatalf("a canceled poll returned %v", err)
					}
					if !tc.change && !errors.Is(err, context.Canceled) {
						t.Fatalf("a canceled poll returned %v, want context.Canceled", err)
					}
				case <-deadline:
					t.Fatalf("%d polls still held 10 s after their clients went away", svc.HeldPolls())
				}
			}
			if tc.change {
				for range polls {
					if err := <-scans; err != nil {
						t.Fatalf("scan: %v", err)
					}
				}
			}
			if n := svc.HeldPolls(); n != 0 {
				t.Fatalf("%d polls still counted as held after every poll returned", n)
			}
			goleak.VerifyNone(t, ignore)
		})
	}
}

// waitFor waits, with a deadline, until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s: not within 10 s", what)
		}
	}
}
