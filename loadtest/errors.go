package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
)

// failure is a step that went wrong. kind names it in the report (see the package
// documentation); err says what happened.
type failure struct {
	kind string
	err  error
	// limited is set when the server refused because of a rate limit or a cap.
	limited bool
}

func (f *failure) Error() string { return f.kind + ": " + f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// stepFailure is a failure of s named what.
func stepFailure(s step, what, format string, args ...any) *failure {
	return &failure{kind: s.String() + ":" + what, err: fmt.Errorf(format, args...)}
}

// oauthAnswer is an error answer of the OAuth endpoints (RFC 6749 §5.2, with qrid's
// qr_status and interval) or of the mobile and admin APIs (error and message).
type oauthAnswer struct {
	Code        string `json:"error"`
	Description string `json:"error_description"`
	Message     string `json:"message"`
	QRStatus    string `json:"qr_status"`
	Interval    int    `json:"interval"`
}

// answerFailure is an unexpected answer to s: its error code, or its HTTP status
// when it has none. Any 429 is "rate_limited", whatever its code.
func answerFailure(s step, status int, body []byte) *failure {
	var a oauthAnswer
	_ = json.Unmarshal(body, &a)
	if status == http.StatusTooManyRequests {
		f := stepFailure(s, "rate_limited", "HTTP 429 %s", a.Code)
		f.limited = true
		return f
	}
	what := strconv.Itoa(status)
	if isCode(a.Code) {
		what = a.Code
	}
	detail := a.Description
	if detail == "" {
		detail = a.Message
	}
	if detail == "" {
		detail = http.StatusText(status)
	}
	return stepFailure(s, what, "HTTP %d: %s", status, detail)
}

// isCode reports whether s looks like an error code (such as invalid_grant): short
// lower-case words, so that a strange server cannot fill the report with junk kinds.
func isCode(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// transportFailure is a request that got no answer.
func transportFailure(err error) *failure {
	what := "error"
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		what = "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		what = "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		what = "reset"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		what = "too_many_open_files"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		what = "no_free_port"
	}
	return &failure{kind: "transport:" + what, err: err}
}
