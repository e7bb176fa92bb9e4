package admin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/qrid/qrid/storage"
)

// Error codes of the admin API. The first two are RFC 7591 §3.2.2's.
const (
	CodeInvalidClientMetadata = "invalid_client_metadata"
	CodeInvalidRedirectURI    = "invalid_redirect_uri"
	CodeInvalidRequest        = "invalid_request"
	CodeNotFound              = "not_found"
	CodeConflict              = "conflict"
	CodeUnauthorized          = "unauthorized"
	CodeMethodNotAllowed      = "method_not_allowed"
	CodeUnsupportedMediaType  = "unsupported_media_type"
	CodeRequestTooLarge       = "request_too_large"
	CodeUnavailable           = "unavailable"
	CodeInternal              = "internal_error"
)

// Error is a failure the caller can act on. The HTTP layer answers Status with the
// JSON body {"error": Code, "message": Message}.
type Error struct {
	Status  int
	Code    string
	Message string

	// cause is the underlying error, if any (e.g. storage.ErrConflict).
	cause error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the underlying error, so errors.Is(err, storage.ErrNotFound) holds
// for a not_found Error that came from the store.
func (e *Error) Unwrap() error { return e.cause }

func newError(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalidMetadata(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, CodeInvalidClientMetadata, format, args...)
}

func invalidRedirectURI(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, CodeInvalidRedirectURI, format, args...)
}

func invalidRequest(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, CodeInvalidRequest, format, args...)
}

// storeError turns the store's sentinels into an Error about what (e.g. `client "x"`)
// and wraps any other error with context.
func storeError(err error, what, op string) error {
	var e *Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return err
	case errors.Is(err, storage.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: what + " does not exist.", cause: err}
	case errors.Is(err, storage.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: what + " already exists.", cause: err}
	default:
		return fmt.Errorf("admin: %s %s: %w", op, what, err)
	}
}
