package qr

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
)

// notices collects what Config.OnEvent hears.
type notices struct {
	mu  sync.Mutex
	got []Notice
}

func (n *notices) record(_ context.Context, x Notice) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, x)
}

func (n *notices) kinds() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var kinds []string
	for _, x := range n.got {
		kinds = append(kinds, x.Kind)
	}
	return kinds
}

func (n *notices) last() Notice {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.got[len(n.got)-1]
}

func TestNotices(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// decide runs after alice's phone scanned a matching session; it returns
		// the error the last call should give.
		decide  func(t *testing.T, svc *Service, a Authorization, scan ScanResult) error
		want    []string
		wantErr error
	}{
		{"ok/approved", func(t *testing.T, svc *Service, a Authorization, scan ScanResult) error {
			_, err := svc.Confirm(t.Context(), ConfirmRequest{ConfirmToken: scan.ConfirmToken, AccountID: "alice",
				DeviceID: "phone", Approve: true, Match: a.MatchCode, IP: "198.51.100.1"})
			return err
		}, []string{NoticeScanned, NoticeApproved}, nil},
		{"ok/denied", func(t *testing.T, svc *Service, a Authorization, scan ScanResult) error {
			_, err := svc.Confirm(t.Context(), ConfirmRequest{ConfirmToken: scan.ConfirmToken, AccountID: "alice",
				DeviceID: "phone", Approve: false, IP: "198.51.100.1"})
			return err
		}, []string{NoticeScanned, NoticeDenied}, nil},
		{"ok/rescan_by_same_phone", func(t *testing.T, svc *Service, a Authorization, _ ScanResult) error {
			_, err := svc.Scan(t.Context(), ScanRequest{QR: a.QRID, AccountID: "alice", DeviceID: "phone", IP: "198.51.100.1"})
			return err
		}, []string{NoticeScanned, NoticeScanned}, nil},
		{"fail/wrong_match", func(t *testing.T, svc *Service, a Authorization, scan ScanResult) error {
			wrong := ""
			for _, c := range scan.Session.MatchChoices {
				if c != a.MatchCode {
					wrong = c
				}
			}
			_, err := svc.Confirm(t.Context(), ConfirmRequest{ConfirmToken: scan.ConfirmToken, AccountID: "alice",
				DeviceID: "phone", Approve: true, Match: wrong, IP: "198.51.100.1"})
			return err
		}, []string{NoticeScanned, NoticeWrongMatch}, ErrWrongMatch},
		{"fail/contested", func(t *testing.T, svc *Service, a Authorization, _ ScanResult) error {
			_, err := svc.Scan(t.Context(), ScanRequest{QR: a.QRID, AccountID: "mallory", DeviceID: "other-phone", IP: "203.0.113.66"})
			return err
		}, []string{NoticeScanned, NoticeContested}, ErrAlreadyScanned},
		{"fail/refused_events_are_not_reported", func(t *testing.T, svc *Service, a Authorization, scan ScanResult) error {
			if _, err := svc.Confirm(t.Context(), ConfirmRequest{ConfirmToken: scan.ConfirmToken, AccountID: "alice",
				DeviceID: "phone", Approve: true}); !errors.Is(err, ErrMatchRequired) {
				t.Fatalf("confirm without a match: %v", err)
			}
			_, err := svc.Confirm(t.Context(), ConfirmRequest{ConfirmToken: "unknown", AccountID: "alice",
				DeviceID: "phone", Approve: true, Match: a.MatchCode})
			return err
		}, []string{NoticeScanned}, ErrInvalidConfirmToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, _, _ := newTestService(t)
			var heard notices
			svc.cfg.OnEvent = heard.record
			a, err := svc.Authorize(t.Context(), AuthorizeRequest{ClientID: "tv", Matching: true})
			if err != nil {
				t.Fatal(err)
			}
			scan, err := svc.Scan(t.Context(), ScanRequest{QR: a.VerificationURIComplete, AccountID: "alice", DeviceID: "phone", IP: "198.51.100.1"})
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.decide(t, svc, a, scan); !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := heard.kinds(); !slices.Equal(got, tt.want) {
				t.Fatalf("notices %v, want %v", got, tt.want)
			}
			n := heard.last()
			if n.Session.ID != a.QRID || n.Session.ClientID != "tv" {
				t.Errorf("notice about session %q of client %q, want %q of tv", n.Session.ID, n.Session.ClientID, a.QRID)
			}
			if n.Kind == NoticeContested {
				// The second device is named; the session still names the first.
				if n.AccountID != "mallory" || n.DeviceID != "other-phone" || n.IP != "203.0.113.66" || n.Session.DeviceID != "phone" {
					t.Errorf("contested notice %+v", n)
				}
				return
			}
			if n.AccountID != "alice" || n.DeviceID != "phone" || n.IP != "198.51.100.1" {
				t.Errorf("notice names %q %q %q, want alice's phone at 198.51.100.1", n.AccountID, n.DeviceID, n.IP)
			}
		})
	}
}

func TestNoticeNotForConsume(t *testing.T) {
	t.Parallel()
	svc, _, _ := newTestService(t)
	var heard notices
	svc.cfg.OnEvent = heard.record
	ctx := t.Context()
	a, err := svc.Authorize(ctx, AuthorizeRequest{ClientID: "tv"})
	if err != nil {
		t.Fatal(err)
	}
	scan, err := svc.Scan(ctx, ScanRequest{QR: a.QRID, AccountID: "alice", DeviceID: "phone"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Confirm(ctx, ConfirmRequest{ConfirmToken: scan.ConfirmToken, AccountID: "alice", DeviceID: "phone", Approve: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Consume(ctx, a.QRID); err != nil {
		t.Fatal(err)
	}
	if got, want := heard.kinds(), []string{NoticeScanned, NoticeApproved}; !slices.Equal(got, want) {
		t.Fatalf("notices %v, want %v", got, want)
	}
}
