package qr

import (
	"context"
	"testing"
	"time"

	"github.com/qrid/qrid/storage"
)

// TestPollAfterTheStoreLostAWrite: a store that crashes may lose its last commits
// (PostgreSQL with relaxed commits, or a failover to a replica that lagged), so the
// hub may know a version the store no longer has. Once the change listener has
// reconnected (Reset), a poll follows the store back instead of waiting for the
// lost version for ever, and the person's second scan completes the sign-in.
func TestPollAfterTheStoreLostAWrite(t *testing.T) {
	svc, _, _ := newTestService(t)
	ctx := context.Background()
	a, err := svc.Authorize(ctx, AuthorizeRequest{ClientID: "tv", Scopes: []string{"openid"}})
	if err != nil {
		t.Fatal(err)
	}
	phone := ScanRequest{QR: a.VerificationURIComplete, AccountID: "alice", DeviceID: "phone"}
	sc, err := svc.Scan(ctx, phone)
	if err != nil {
		t.Fatal(err)
	}
	// The approval was acknowledged, announced and published, then lost with the
	// store's last commits: the store still has the scanned session.
	lost := sc.Session
	lost.Version, lost.State, lost.DecidedAt = lost.Version+1, storage.QRApproved, time.Now()
	svc.Hub().Announce(lost.ID, lost.Version)
	svc.Hub().Publish(lost)
	svc.Hub().Reset()

	polled := make(chan PollResult, 1)
	pollCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		res, err := svc.Poll(pollCtx, "tv", a.DeviceCode, 0)
		if err != nil && pollCtx.Err() == nil {
			t.Errorf("poll: %v", err)
		}
		polled <- res
	}()
	select {
	case res := <-polled:
		if res.Status != PollPending || res.Session.State != storage.QRScanned || res.Session.Version != sc.Session.Version {
			t.Fatalf("poll after the lost approval = %v, session %s version %d; want pending, scanned, version %d",
				res.Status, res.Session.State, res.Session.Version, sc.Session.Version)
		}
	case <-time.After(5 * time.Second):
		// Not waiting for it: against the memory store a poll that reloads for ever
		// does not notice its context ending.
		t.Fatal("the poll did not answer within 5 s: it waits for the lost version")
	}

	// The person sees nothing happen on the screen and scans again.
	sc, err = svc.Scan(ctx, phone)
	if err != nil {
		t.Fatalf("second scan: %v", err)
	}
	if _, err := svc.Confirm(ctx, ConfirmRequest{ConfirmToken: sc.ConfirmToken, AccountID: "alice", DeviceID: "phone", Approve: true}); err != nil {
		t.Fatalf("second confirm: %v", err)
	}
	res, err := svc.Poll(ctx, "tv", a.DeviceCode, 0)
	if err != nil || res.Status != PollApproved {
		t.Fatalf("poll after the second approval = %v %v, want approved", res.Status, err)
	}
}
