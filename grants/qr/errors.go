package qr

import (
	"errors"
	"net/http"
)

// Error is a typed outcome of a QR session operation. Code is the machine-readable
// code the mobile API answers (DESIGN §3b) and Status the HTTP status that fits it.
type Error struct {
	Code    string
	Message string
	Status  int
	// closes is true when the event that failed still closes the session (a second
	// device scanning, a wrong number picked): the closed session is stored, then
	// the error is reported.
	closes bool
}

func (e *Error) Error() string { return e.Message }

// Is matches errors by code, so errors.Is(err, ErrExpired) holds for any expiry.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// The errors of QR session operations.
var (
	ErrNotFound = &Error{Code: "not_found", Status: http.StatusNotFound,
		Message: "This is not a current qrid sign-in code."}
	ErrExpired = &Error{Code: "expired", Status: http.StatusGone,
		Message: "This sign-in code has expired; ask for a new one."}
	ErrConfirmExpired = &Error{Code: "expired", Status: http.StatusGone,
		Message: "The confirmation took too long; scan the code again."}
	ErrAlreadyScanned = &Error{Code: "already_scanned", Status: http.StatusConflict,
		Message: "This code was scanned by another device, so it has been closed for your safety; ask for a new one.", closes: true}
	ErrContested = &Error{Code: "already_scanned", Status: http.StatusConflict,
		Message: "Another device scanned this code, so it has been closed for your safety; ask for a new one."}
	ErrAlreadyUsed = &Error{Code: "already_used", Status: http.StatusConflict,
		Message: "This sign-in has already been decided."}
	ErrWrongMatch = &Error{Code: "wrong_match", Status: http.StatusForbidden,
		Message: "That is not the number shown on the screen, so the sign-in was refused.", closes: true}
	ErrWrongDevice = &Error{Code: "forbidden", Status: http.StatusForbidden,
		Message: "This confirmation belongs to another device or account."}
	ErrInvalidConfirmToken = &Error{Code: "invalid_token", Status: http.StatusNotFound,
		Message: "This confirmation is unknown or was replaced by a newer scan."}
	ErrMatchRequired = &Error{Code: "invalid_request", Status: http.StatusBadRequest,
		Message: "Pick the number shown on the screen."}
	ErrTooManyPending = &Error{Code: "rate_limited", Status: http.StatusTooManyRequests,
		Message: "This application has too many sign-ins waiting; try again shortly."}
)

// closesSession reports whether err is an outcome whose session change must be
// stored before err is reported.
func closesSession(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.closes
}
