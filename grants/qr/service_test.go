package qr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
)

func testDigest(purpose string) Digest {
	return func(s string) string {
		h := sha256.Sum256([]byte(purpose + ":" + s))
		return hex.EncodeToString(h[:])
	}
}

func newTestService(t *testing.T) (*Service, storage.Storage, *time.Time) {
	t.Helper()
	store := memory.New()
	ctx := context.Background()
	if err := store.CreateClient(ctx, storage.Client{ID: "tv", Name: "TV", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := store.CreateUser(ctx, storage.User{ID: "alice", Username: "alice", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	svc, err := NewService(store, NewHub(), Config{
		Issuer: "https://id.example", Interval: time.Second, MaxPendingPerClient: 3,
		DeviceCodes: testDigest("d"), UserCodes: testDigest("u"), ConfirmTokens: testDigest("c"),
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc, store, &now
}

func TestPollWakesOnChange(t *testing.T) {
	svc, _, _ := newTestService(t)
	ctx := context.Background()
	a, err := svc.Authorize(ctx, AuthorizeRequest{ClientID: "tv", Scopes: []string{"openid"}})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan PollResult, 1)
	go func() {
		res, err := svc.Poll(ctx, "tv", a.DeviceCode, 25*time.Second)
		if err != nil {
			t.Error(err)
		}
		got <- res
	}()
	waitHeld(t, svc)
	if _, err := svc.Scan(ctx, ScanRequest{QR: a.VerificationURIComplete, AccountID: "alice", DeviceID: "phone"}); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-got:
		if res.Status != PollPending || res.Session.State != storage.QRScanned {
			t.Fatalf("woken poll = %+v", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the held poll was not woken by the scan")
	}
}

func TestPollDrain(t *testing.T) {
	svc, _, _ := newTestService(t)
	ctx := context.Background()
	a, err := svc.Authorize(ctx, AuthorizeRequest{ClientID: "tv", Scopes: []string{"openid"}})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		_, err := svc.Poll(ctx, "tv", a.DeviceCode, 25*time.Second)
		got <- err
	}()
	waitHeld(t, svc)
	svc.Drain()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Drain did not release the held poll")
	}
}

func TestPollClientDisconnect(t *testing.T) {
	svc, _, _ := newTestService(t)
	a, err := svc.Authorize(context.Background(), AuthorizeRequest{ClientID: "tv", Scopes: []string{"openid"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		_, err := svc.Poll(ctx, "tv", a.DeviceCode, 25*time.Second)
		got <- err
	}()
	waitHeld(t, svc)
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := svc.HeldPolls(); n != 0 {
		t.Fatalf("%d polls still counted as held", n)
	}
}

func TestPendingCap(t *testing.T) {
	svc, _, _ := newTestService(t)
	ctx := context.Background()
	for range 3 {
		if _, err := svc.Authorize(ctx, AuthorizeRequest{ClientID: "tv"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Authorize(ctx, AuthorizeRequest{ClientID: "tv"}); !errors.Is(err, ErrTooManyPending) {
		t.Fatalf("err = %v, want ErrTooManyPending", err)
	}
}

func TestScanByUserCode(t *testing.T) {
	svc, _, _ := newTestService(t)
	ctx := context.Background()
	a, err := svc.Authorize(ctx, AuthorizeRequest{ClientID: "tv", Matching: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Scan(ctx, ScanRequest{UserCode: " " + a.UserCode[:4] + " " + a.UserCode[5:], AccountID: "alice", DeviceID: "phone"})
	if err != nil {
		t.Fatalf("scan by user code: %v", err)
	}
	if res.ConfirmToken == "" || len(res.Session.MatchChoices) != 3 {
		t.Fatalf("scan result = %+v", res)
	}
	if _, err := svc.Scan(ctx, ScanRequest{UserCode: "BBBB-BBBB", AccountID: "alice", DeviceID: "phone"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user code: %v", err)
	}
}

// waitHeld waits (with a deadline) until a poll is held by the service.
func waitHeld(t *testing.T, svc *Service) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for svc.HeldPolls() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no poll was held within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestDeferredWait: under DeferWait a poll that would wait answers *Waiting instead;
// Wait holds (counted in HeldPolls) until the session changes; the poll asked again
// under Resume answers at once, with the change, and is not told slow_down although
// the clock has not moved past the interval.
func TestDeferredWait(t *testing.T) {
	svc, _, _ := newTestService(t)
	ctx := context.Background()
	a, err := svc.Authorize(ctx, AuthorizeRequest{ClientID: "tv", Scopes: []string{"openid"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Poll(DeferWait(ctx), "tv", a.DeviceCode, 25*time.Second)
	var w *Waiting
	if !errors.As(err, &w) {
		t.Fatalf("poll under DeferWait = %v, want *Waiting", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- svc.Wait(ctx, w) }()
	waitHeld(t, svc)
	if _, err := svc.Scan(ctx, ScanRequest{QR: a.VerificationURIComplete, AccountID: "alice", DeviceID: "phone"}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("Wait = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait was not ended by the scan")
	}
	res, err := svc.Poll(Resume(ctx), "tv", a.DeviceCode, 25*time.Second)
	if err != nil || res.Status != PollPending || res.Session.State != storage.QRScanned {
		t.Fatalf("resumed poll = %+v, %v; want pending, scanned, at once", res, err)
	}
	if n := svc.HeldPolls(); n != 0 {
		t.Errorf("%d polls still counted as held", n)
	}

	// A client that goes away ends its Wait with its context's error.
	_, err = svc.Poll(DeferWait(ctx), "tv", a.DeviceCode, 25*time.Second)
	if !errors.As(err, &w) {
		t.Fatalf("second poll under DeferWait = %v, want *Waiting", err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if err := svc.Wait(gone, w); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait of a client gone = %v, want context.Canceled", err)
	}
}
