package jsonapi

import "net/http"

// StatusRecorder is a ResponseWriter that remembers the status written through it,
// for request logs and metrics, and whether anything was written at all, so that a
// recovered panic is answered only while the answer has not begun.
type StatusRecorder struct {
	http.ResponseWriter
	status int
}

// Written reports whether the status line has been sent.
func (w *StatusRecorder) Written() bool { return w.status != 0 }

// Status is the status sent, or 200, which net/http sends for a handler that wrote
// nothing.
func (w *StatusRecorder) Status() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

func (w *StatusRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *StatusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (to flush, for
// instance).
func (w *StatusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
