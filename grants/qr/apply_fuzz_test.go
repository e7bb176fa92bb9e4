package qr

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/qrid/qrid/storage"
)

// Small worlds for FuzzApply: the choices an event picks from.
var (
	fuzzAccounts = []string{"alice", "bob"}
	fuzzDevices  = []string{"phone1", "phone2"}
	fuzzTokens   = []string{"tok1", "tok2", ""}
	fuzzMatches  = []string{"", "42", "17"}
	fuzzSteps    = []time.Duration{0, time.Second, 30 * time.Second, 59 * time.Second, 61 * time.Second, 2 * time.Minute, 5 * time.Minute}
	fuzzTTLs     = []time.Duration{60 * time.Second, time.Second, 0, 10 * time.Minute}
)

// fuzzEvents reads a sequence of events and clock steps from data, two bytes each:
// the first picks the kind, the second the choices.
type fuzzEvents struct{ data []byte }

func (r *fuzzEvents) next() (kind, arg byte, ok bool) {
	if len(r.data) < 2 {
		return 0, 0, false
	}
	kind, arg = r.data[0], r.data[1]
	r.data = r.data[2:]
	return kind, arg, true
}

func pick[T any](choices []T, b byte) T { return choices[int(b)%len(choices)] }

// FuzzApply runs random sequences of Scan, Decide, Consume and clock steps on a
// pending session and checks the invariants of the state machine (DESIGN §4) after
// every event: a failed event changes nothing (except the two that close the
// session), a consumed or denied session never changes, at most one Consume
// succeeds, only the scanning account and device can approve, the binding never
// changes once made, and after expiry nothing succeeds.
func FuzzApply(f *testing.F) {
	// Seeds: kind byte (mod 4: 0 scan, 1 decide, 2 consume, 3 clock step), choice byte.
	f.Add(false, []byte{0, 0x00, 1, 0x01, 2, 0, 2, 0})                      // scan, approve, consume twice
	f.Add(true, []byte{0, 0x00, 1, 0x11, 2, 0})                             // matching, right number
	f.Add(true, []byte{0, 0x00, 1, 0x21, 1, 0x11, 2, 0})                    // wrong number, then the right one
	f.Add(false, []byte{0, 0x00, 0, 0x01, 1, 0x01, 1, 0x03})                // second device, then decisions
	f.Add(false, []byte{0, 0x00, 3, 4, 1, 0x01})                            // confirm token expired
	f.Add(false, []byte{0, 0x00, 3, 6, 1, 0x01, 2, 0})                      // session expired
	f.Add(false, []byte{0, 0x00, 1, 0x00, 1, 0x01, 2, 0})                   // refuse, then approve
	f.Add(false, []byte{0, 0x00, 0, 0x00, 1, 0x01, 2, 0, 3, 6, 2, 0})       // rescan, approve, consume, expire
	f.Add(false, []byte{0, 0x10, 1, 0x05, 1, 0x09, 1, 0x0d, 2, 0})          // decides from other accounts
	f.Add(false, []byte{0, 0x00, 0, 0x04, 1, 0x01, 1, 0x05})                // rescan with a new token
	f.Add(true, []byte{0, 0x00, 1, 0x01, 1, 0x11, 2, 0, 2, 0, 0, 0})        // match required
	f.Add(false, []byte{2, 0, 1, 0x01, 0, 0x0a, 3, 1, 1, 0x01, 3, 5, 2, 0}) // out of order
	f.Fuzz(func(t *testing.T, matching bool, data []byte) {
		s := storage.QRSession{ID: "qr1", ClientID: "c1", State: storage.QRPending, CreatedAt: t0,
			ExpiresAt: t0.Add(5 * time.Minute), Version: 1}
		if matching {
			s.MatchCode, s.MatchChoices = "42", []string{"17", "42", "88"}
		}
		now := t0
		consumed := 0
		var boundAccount, boundDevice string
		events := &fuzzEvents{data: data}
		for step := 0; ; step++ {
			kind, arg, ok := events.next()
			if !ok {
				break
			}
			var ev Event
			switch kind % 4 {
			case 0:
				ev = Scan{AccountID: pick(fuzzAccounts, arg), DeviceID: pick(fuzzDevices, arg>>1),
					ConfirmTokenDigest: pick(fuzzTokens, arg>>2), ConfirmTTL: pick(fuzzTTLs, arg>>4)}
			case 1:
				ev = Decide{AccountID: pick(fuzzAccounts, arg>>2), DeviceID: pick(fuzzDevices, arg>>3),
					ConfirmTokenDigest: pick(fuzzTokens, arg>>1&1), Approve: arg&1 == 1, Match: pick(fuzzMatches, arg>>4)}
			case 2:
				ev = Consume{}
			case 3:
				now = now.Add(pick(fuzzSteps, arg))
				continue
			}
			next, err := Apply(s, ev, now)
			where := func() string { return describe(step, ev, s, next, err) }

			if !validState(next.State) {
				t.Fatalf("invalid state: %s", where())
			}
			// A failed event changes nothing, unless it closes the session.
			if err != nil {
				var qe *Error
				if !errors.As(err, &qe) {
					t.Fatalf("error is not a *qr.Error: %s", where())
				}
				if closesSession(err) {
					if next.State != storage.QRDenied || s.State != storage.QRScanned {
						t.Fatalf("a closing error did not close a scanned session: %s", where())
					}
				} else if !reflect.DeepEqual(next, s) {
					t.Fatalf("a failed event changed the session: %s", where())
				}
			}
			// After expiry nothing succeeds and nothing changes.
			if Expired(s, now) && (err == nil || !reflect.DeepEqual(next, s)) {
				t.Fatalf("an event on an expired session had an effect: %s", where())
			}
			// Consumed and denied are final.
			if (s.State == storage.QRConsumed || s.State == storage.QRDenied) && (err == nil || !reflect.DeepEqual(next, s)) {
				t.Fatalf("a final session changed: %s", where())
			}
			// The binding of the first scan never changes.
			if boundAccount != "" && (next.AccountID != boundAccount || next.DeviceID != boundDevice) {
				t.Fatalf("the binding changed from %s/%s: %s", boundAccount, boundDevice, where())
			}
			if err == nil {
				checkTransition(t, s, next, ev, now, where)
				if _, ok := ev.(Consume); ok {
					consumed++
					if consumed > 1 {
						t.Fatalf("a second Consume succeeded: %s", where())
					}
				}
				if _, ok := ev.(Scan); ok && boundAccount == "" {
					boundAccount, boundDevice = next.AccountID, next.DeviceID
				}
			}
			if next.State == storage.QRApproved && s.State != storage.QRApproved {
				d, ok := ev.(Decide)
				if !ok || !d.Approve || d.AccountID != s.AccountID || d.DeviceID != s.DeviceID ||
					d.AccountID != boundAccount || d.DeviceID != boundDevice {
					t.Fatalf("approved by an event that is not the scanner's approval: %s", where())
				}
				if d.ConfirmTokenDigest == "" || d.ConfirmTokenDigest != s.ConfirmTokenDigest || !now.Before(s.ConfirmExpiresAt) {
					t.Fatalf("approved without the live confirm token: %s", where())
				}
				if s.MatchCode != "" && d.Match != s.MatchCode {
					t.Fatalf("approved with the wrong number: %s", where())
				}
			}
			if next.State == storage.QRScanned && (next.ConfirmExpiresAt.After(next.ExpiresAt) || next.AccountID == "") {
				t.Fatalf("scanned session without a sound binding: %s", where())
			}
			// Status agrees with the state.
			if st := Status(next, now); next.State == storage.QRConsumed && st != PollConsumed ||
				next.State == storage.QRApproved && !Expired(next, now) && st != PollApproved {
				t.Fatalf("Status = %d: %s", st, where())
			}
			s = next
		}
	})
}

func validState(st storage.QRState) bool {
	switch st {
	case storage.QRPending, storage.QRScanned, storage.QRApproved, storage.QRDenied, storage.QRConsumed:
		return true
	}
	return false
}

// checkTransition checks that a successful event made one of the transitions of the
// diagram on Apply.
func checkTransition(t *testing.T, from, to storage.QRSession, ev Event, now time.Time, where func() string) {
	t.Helper()
	ok := false
	switch ev := ev.(type) {
	case Scan:
		ok = to.State == storage.QRScanned && (from.State == storage.QRPending ||
			from.State == storage.QRScanned && from.AccountID == ev.AccountID && from.DeviceID == ev.DeviceID) &&
			to.ConfirmTokenDigest == ev.ConfirmTokenDigest
	case Decide:
		ok = from.State == storage.QRScanned && (to.State == storage.QRApproved || to.State == storage.QRDenied) &&
			to.DecidedAt.Equal(now)
		if to.State == storage.QRDenied {
			ok = ok && !ev.Approve && to.DenyReason == "denied"
		}
	case Consume:
		ok = from.State == storage.QRApproved && to.State == storage.QRConsumed
	}
	if !ok {
		t.Fatalf("a successful event made a transition the state machine does not have: %s", where())
	}
}

func describe(step int, ev Event, from, to storage.QRSession, err error) string {
	return fmt.Sprintf("step %d %T%+v\nfrom %s\nto   %s\nerr  %v", step, ev, ev, sprintSession(from), sprintSession(to), err)
}

func sprintSession(s storage.QRSession) string {
	return fmt.Sprintf("%s %s/%s token=%q confirm_until=%s decided=%s reason=%q", s.State, s.AccountID, s.DeviceID,
		s.ConfirmTokenDigest, s.ConfirmExpiresAt.Format(time.TimeOnly), s.DecidedAt.Format(time.TimeOnly), s.DenyReason)
}
