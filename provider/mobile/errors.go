package mobile

import (
	"fmt"
	"net/http"
)

// Error codes of the mobile API, answered as {"error": code, "message": sentence}.
// The QR session codes (not_found, expired, already_scanned, already_used,
// wrong_match, forbidden, invalid_token, invalid_request, rate_limited) come from
// grants/qr's typed errors and keep their code and status.
const (
	CodeInvalidRequest       = "invalid_request"
	CodeInvalidCredentials   = "invalid_credentials"
	CodeUnauthorized         = "unauthorized"
	CodeNotFound             = "not_found"
	CodeRateLimited          = "rate_limited"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeRequestTooLarge      = "request_too_large"
	CodeInternal             = "internal_error"
)

// apiError is a failure the app can act on: Status with the JSON body
// {"error": Code, "message": Message}.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Message }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalidRequest(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, CodeInvalidRequest, format, args...)
}

var (
	errInvalidCredentials = newError(http.StatusUnauthorized, CodeInvalidCredentials,
		"The username or the password is wrong.")
	errInternal = newError(http.StatusInternalServerError, CodeInternal,
		"The server failed to handle the request; the error is logged.")
	errDeviceNotFound = newError(http.StatusNotFound, CodeNotFound,
		"You have no signed-in device with this ID.")
)
