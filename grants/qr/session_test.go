package qr

import (
	"errors"
	"testing"
	"time"

	"github.com/qrid/qrid/storage"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func pending() storage.QRSession {
	return storage.QRSession{ID: "qr1", ClientID: "c1", State: storage.QRPending, CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute), Version: 1}
}

func scanned() storage.QRSession {
	s := pending()
	s.State = storage.QRScanned
	s.AccountID, s.DeviceID = "alice", "phone1"
	s.ConfirmTokenDigest = "tok1"
	s.ConfirmExpiresAt = t0.Add(60 * time.Second)
	s.ScannedAt = t0
	return s
}

func matching(s storage.QRSession) storage.QRSession {
	s.MatchCode, s.MatchChoices = "42", []string{"17", "42", "88"}
	return s
}

func with(s storage.QRSession, f func(*storage.QRSession)) storage.QRSession {
	f(&s)
	return s
}

func TestApply(t *testing.T) {
	scan := func(account, device, token string) Scan {
		return Scan{AccountID: account, DeviceID: device, ConfirmTokenDigest: token, ConfirmTTL: 60 * time.Second}
	}
	decide := func(account, device, token string, approve bool, match string) Decide {
		return Decide{AccountID: account, DeviceID: device, ConfirmTokenDigest: token, Approve: approve, Match: match}
	}
	cases := []struct {
		name    string
		from    storage.QRSession
		ev      Event
		at      time.Time
		wantErr error
		// want checks the returned session.
		want func(t *testing.T, got storage.QRSession)
	}{
		{name: "ok/scan_pending", from: pending(), ev: scan("alice", "phone1", "tok1"), at: t0.Add(time.Second),
			want: func(t *testing.T, s storage.QRSession) {
				if s.State != storage.QRScanned || s.AccountID != "alice" || s.DeviceID != "phone1" || s.ConfirmTokenDigest != "tok1" {
					t.Fatalf("got %+v", s)
				}
				if !s.ConfirmExpiresAt.Equal(t0.Add(61 * time.Second)) {
					t.Fatalf("confirm expires at %v", s.ConfirmExpiresAt)
				}
			}},
		{name: "ok/confirm_token_never_outlives_session", from: with(pending(), func(s *storage.QRSession) { s.ExpiresAt = t0.Add(10 * time.Second) }),
			ev: scan("alice", "phone1", "tok1"), at: t0,
			want: func(t *testing.T, s storage.QRSession) {
				if !s.ConfirmExpiresAt.Equal(t0.Add(10 * time.Second)) {
					t.Fatalf("confirm expires at %v, after the session", s.ConfirmExpiresAt)
				}
			}},
		{name: "ok/rescan_same_device_replaces_token", from: scanned(), ev: scan("alice", "phone1", "tok2"), at: t0.Add(5 * time.Second),
			want: func(t *testing.T, s storage.QRSession) {
				if s.State != storage.QRScanned || s.ConfirmTokenDigest != "tok2" {
					t.Fatalf("got %+v", s)
				}
			}},
		{name: "fail/second_device_contests", from: scanned(), ev: scan("mallory", "phone9", "tok9"), at: t0.Add(5 * time.Second), wantErr: ErrAlreadyScanned,
			want: func(t *testing.T, s storage.QRSession) {
				if s.State != storage.QRDenied || s.DenyReason != "contested" {
					t.Fatalf("the session was not closed as contested: %+v", s)
				}
			}},
		{name: "fail/same_account_other_device_contests", from: scanned(), ev: scan("alice", "phone2", "tok9"), at: t0, wantErr: ErrAlreadyScanned},
		{name: "fail/scan_contested", from: with(scanned(), func(s *storage.QRSession) { s.State, s.DenyReason = storage.QRDenied, "contested" }),
			ev: scan("alice", "phone1", "tok3"), at: t0, wantErr: ErrContested},
		{name: "fail/scan_approved", from: with(scanned(), func(s *storage.QRSession) { s.State = storage.QRApproved }), ev: scan("alice", "phone1", "t"), at: t0, wantErr: ErrAlreadyUsed},
		{name: "fail/scan_expired", from: pending(), ev: scan("alice", "phone1", "t"), at: t0.Add(5 * time.Minute), wantErr: ErrExpired},

		{name: "ok/approve", from: scanned(), ev: decide("alice", "phone1", "tok1", true, ""), at: t0.Add(10 * time.Second),
			want: func(t *testing.T, s storage.QRSession) {
				if s.State != storage.QRApproved || !s.DecidedAt.Equal(t0.Add(10*time.Second)) {
					t.Fatalf("got %+v", s)
				}
			}},
		{name: "ok/refuse", from: scanned(), ev: decide("alice", "phone1", "tok1", false, ""), at: t0,
			want: func(t *testing.T, s storage.QRSession) {
				if s.State != storage.QRDenied || s.DenyReason != "denied" {
					t.Fatalf("got %+v", s)
				}
			}},
		{name: "ok/approve_right_number", from: matching(scanned()), ev: decide("alice", "phone1", "tok1", true, "42"), at: t0,
			want: func(t *testing.T, s storage.QRSession) {
				if s.State != storage.QRApproved {
					t.Fatalf("got %+v", s)
				}
			}},
		{name: "fail/wrong_number_denies", from: matching(scanned()), ev: decide("alice", "phone1", "tok1", true, "17"), at: t0, wantErr: ErrWrongMatch,
			want: func(t *testing.T, s storage.QRSession) {
				if s.State != storage.QRDenied || s.DenyReason != "wrong_match" {
					t.Fatalf("a wrong pick did not deny: %+v", s)
				}
			}},
		{name: "fail/no_number_picked", from: matching(scanned()), ev: decide("alice", "phone1", "tok1", true, ""), at: t0, wantErr: ErrMatchRequired},
		{name: "ok/refuse_needs_no_number", from: matching(scanned()), ev: decide("alice", "phone1", "tok1", false, ""), at: t0},
		{name: "fail/replayed_confirm", from: with(scanned(), func(s *storage.QRSession) { s.State = storage.QRApproved }), ev: decide("alice", "phone1", "tok1", true, ""), at: t0, wantErr: ErrAlreadyUsed},
		{name: "fail/old_confirm_token", from: with(scanned(), func(s *storage.QRSession) { s.ConfirmTokenDigest = "tok2" }), ev: decide("alice", "phone1", "tok1", true, ""), at: t0, wantErr: ErrInvalidConfirmToken},
		{name: "fail/other_account", from: scanned(), ev: decide("mallory", "phone1", "tok1", true, ""), at: t0, wantErr: ErrWrongDevice},
		{name: "fail/other_device", from: scanned(), ev: decide("alice", "phone2", "tok1", true, ""), at: t0, wantErr: ErrWrongDevice},
		{name: "fail/confirm_after_60s", from: scanned(), ev: decide("alice", "phone1", "tok1", true, ""), at: t0.Add(60 * time.Second), wantErr: ErrConfirmExpired},
		{name: "fail/confirm_after_session_expiry", from: scanned(), ev: decide("alice", "phone1", "tok1", true, ""), at: t0.Add(6 * time.Minute), wantErr: ErrExpired},
		{name: "fail/confirm_contested", from: with(scanned(), func(s *storage.QRSession) { s.State, s.DenyReason = storage.QRDenied, "contested" }),
			ev: decide("alice", "phone1", "tok1", true, ""), at: t0, wantErr: ErrContested},
		{name: "fail/confirm_pending", from: pending(), ev: decide("alice", "phone1", "", true, ""), at: t0, wantErr: ErrInvalidConfirmToken},

		{name: "ok/consume_approved", from: with(scanned(), func(s *storage.QRSession) { s.State = storage.QRApproved }), ev: Consume{}, at: t0,
			want: func(t *testing.T, s storage.QRSession) {
				if s.State != storage.QRConsumed {
					t.Fatalf("got %+v", s)
				}
			}},
		{name: "fail/consume_twice", from: with(scanned(), func(s *storage.QRSession) { s.State = storage.QRConsumed }), ev: Consume{}, at: t0, wantErr: ErrAlreadyUsed},
		{name: "fail/consume_pending", from: pending(), ev: Consume{}, at: t0, wantErr: ErrAlreadyUsed},
		{name: "fail/consume_after_expiry", from: with(scanned(), func(s *storage.QRSession) { s.State = storage.QRApproved }), ev: Consume{}, at: t0.Add(5 * time.Minute), wantErr: ErrExpired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Apply(c.from, c.ev, c.at)
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if err != nil && !closesSession(err) && !sameSession(got, c.from) {
				t.Fatalf("a failed event changed the session:\nfrom %+v\ngot  %+v", c.from, got)
			}
			if c.want != nil {
				c.want(t, got)
			}
		})
	}
}

func sameSession(a, b storage.QRSession) bool {
	return a.State == b.State && a.ConfirmTokenDigest == b.ConfirmTokenDigest && a.AccountID == b.AccountID &&
		a.DeviceID == b.DeviceID && a.DenyReason == b.DenyReason && a.DecidedAt.Equal(b.DecidedAt)
}

func TestStatus(t *testing.T) {
	cases := []struct {
		name string
		s    storage.QRSession
		at   time.Time
		want PollStatus
	}{
		{"pending", pending(), t0, PollPending},
		{"scanned", scanned(), t0, PollPending},
		{"approved", with(scanned(), func(s *storage.QRSession) { s.State = storage.QRApproved }), t0, PollApproved},
		{"denied", with(scanned(), func(s *storage.QRSession) { s.State = storage.QRDenied }), t0, PollDenied},
		{"expired_pending", pending(), t0.Add(5 * time.Minute), PollExpired},
		{"expired_approved", with(scanned(), func(s *storage.QRSession) { s.State = storage.QRApproved }), t0.Add(time.Hour), PollExpired},
		{"consumed_never_expires", with(scanned(), func(s *storage.QRSession) { s.State = storage.QRConsumed }), t0.Add(time.Hour), PollConsumed},
	}
	for _, c := range cases {
		if got := Status(c.s, c.at); got != c.want {
			t.Errorf("%s: Status = %d, want %d", c.name, got, c.want)
		}
	}
}
