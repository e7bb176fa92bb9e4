package qr

import (
	"time"

	"github.com/qrid/qrid/storage"
)

// Event is something that happens to a QR session: Scan, Decide or Consume.
type Event interface{ isEvent() }

// Scan is a phone scanning the QR code (or typing the user code).
type Scan struct {
	AccountID string
	// DeviceID is the scanning device's storage.Device ID.
	DeviceID string
	// ConfirmTokenDigest is the digest of the fresh one-time confirm token.
	ConfirmTokenDigest string
	ConfirmTTL         time.Duration
}

// Decide is the person approving or refusing on the phone.
type Decide struct {
	AccountID          string
	DeviceID           string
	ConfirmTokenDigest string
	Approve            bool
	// Match is the number picked; checked when the session has a MatchCode.
	Match string
}

// Consume is the client collecting its tokens.
type Consume struct{}

func (Scan) isEvent()    {}
func (Decide) isEvent()  {}
func (Consume) isEvent() {}

// Expired reports whether s is past its lifetime: every state but consumed ends at
// ExpiresAt (DESIGN §4).
func Expired(s storage.QRSession, now time.Time) bool {
	return s.State != storage.QRConsumed && !now.Before(s.ExpiresAt)
}

// Apply is the QR session state machine (DESIGN §4): the session after ev at now, or
// an *Error. It is a pure function; callers store what it returns.
//
// When err is nil the event succeeded. When err is non-nil, next equals s and nothing
// changes — except for the events that fail *and* close the session (a second device
// scanning: already_scanned; a wrong number picked: wrong_match), where next is the
// closed session, which must be stored before err is reported.
//
//	pending  --Scan-->             scanned (bound to account and device, confirm token)
//	scanned  --Scan same device--> scanned (fresh confirm token; the old one dies)
//	scanned  --Scan other device-> denied (contested)           + already_scanned
//	scanned  --Decide approve-->   approved
//	scanned  --Decide wrong pick-> denied (wrong_match)         + wrong_match
//	scanned  --Decide refuse-->    denied (denied)
//	approved --Consume-->          consumed
func Apply(s storage.QRSession, ev Event, now time.Time) (storage.QRSession, error) {
	if Expired(s, now) {
		return s, ErrExpired
	}
	switch ev := ev.(type) {
	case Scan:
		return applyScan(s, ev, now)
	case Decide:
		return applyDecide(s, ev, now)
	case Consume:
		return applyConsume(s)
	default:
		panic("qr: unknown event")
	}
}

func applyScan(s storage.QRSession, ev Scan, now time.Time) (storage.QRSession, error) {
	next := s
	switch s.State {
	case storage.QRPending:
		next.State = storage.QRScanned
		next.AccountID, next.DeviceID = ev.AccountID, ev.DeviceID
		next.ScannedAt = now
	case storage.QRScanned:
		if s.AccountID != ev.AccountID || s.DeviceID != ev.DeviceID {
			// Two phones on one QR: it was seen or relayed by someone else; no one
			// signs in with it.
			next.State = storage.QRDenied
			next.DenyReason = "contested"
			next.DecidedAt = now
			// The confirm token digest stays, so the first device's confirm finds
			// the session and is told it was contested.
			return next, ErrAlreadyScanned
		}
	case storage.QRDenied:
		if s.DenyReason == "contested" {
			return s, ErrContested
		}
		return s, ErrAlreadyUsed
	default: // approved, consumed
		return s, ErrAlreadyUsed
	}
	next.ConfirmTokenDigest = ev.ConfirmTokenDigest
	next.ConfirmExpiresAt = now.Add(ev.ConfirmTTL)
	if next.ConfirmExpiresAt.After(s.ExpiresAt) {
		next.ConfirmExpiresAt = s.ExpiresAt
	}
	return next, nil
}

func applyDecide(s storage.QRSession, ev Decide, now time.Time) (storage.QRSession, error) {
	switch s.State {
	case storage.QRScanned:
	case storage.QRDenied:
		if s.DenyReason == "contested" {
			return s, ErrContested
		}
		return s, ErrAlreadyUsed
	case storage.QRPending:
		return s, ErrInvalidConfirmToken
	default: // approved, consumed
		return s, ErrAlreadyUsed
	}
	if ev.ConfirmTokenDigest == "" || ev.ConfirmTokenDigest != s.ConfirmTokenDigest {
		return s, ErrInvalidConfirmToken
	}
	if s.AccountID != ev.AccountID || s.DeviceID != ev.DeviceID {
		return s, ErrWrongDevice
	}
	if !now.Before(s.ConfirmExpiresAt) {
		return s, ErrConfirmExpired
	}
	next := s
	next.DecidedAt = now
	switch {
	case !ev.Approve:
		next.State = storage.QRDenied
		next.DenyReason = "denied"
	case s.MatchCode != "" && ev.Match == "":
		return s, ErrMatchRequired
	case s.MatchCode != "" && ev.Match != s.MatchCode:
		next.State = storage.QRDenied
		next.DenyReason = "wrong_match"
		return next, ErrWrongMatch
	default:
		next.State = storage.QRApproved
	}
	return next, nil
}

func applyConsume(s storage.QRSession) (storage.QRSession, error) {
	if s.State != storage.QRApproved {
		return s, ErrAlreadyUsed
	}
	next := s
	next.State = storage.QRConsumed
	return next, nil
}

// PollStatus is what a poll on a session answers, before any waiting.
type PollStatus int

// The answers to a poll (RFC 8628 §3.5).
const (
	// PollPending: authorization_pending (pending or scanned).
	PollPending PollStatus = iota
	// PollApproved: the tokens can be delivered (after a successful Consume).
	PollApproved
	// PollDenied: access_denied (refused, contested or wrong number).
	PollDenied
	// PollExpired: expired_token.
	PollExpired
	// PollConsumed: invalid_grant, the tokens were already delivered.
	PollConsumed
)

// Status maps a session to the answer of a poll at now.
func Status(s storage.QRSession, now time.Time) PollStatus {
	switch {
	case s.State == storage.QRConsumed:
		return PollConsumed
	case Expired(s, now):
		return PollExpired
	case s.State == storage.QRApproved:
		return PollApproved
	case s.State == storage.QRDenied:
		return PollDenied
	default:
		return PollPending
	}
}
