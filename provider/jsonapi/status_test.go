package jsonapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestStatusRecorder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter)
		written bool
		status  int
	}{
		{"ok/nothing_written", func(http.ResponseWriter) {}, false, http.StatusOK},
		{"ok/body_only", func(w http.ResponseWriter) { _, _ = w.Write([]byte("hi")) }, true, http.StatusOK},
		{"ok/header", func(w http.ResponseWriter) { w.WriteHeader(http.StatusNotFound) }, true, http.StatusNotFound},
		{"ok/first_header_counts", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusCreated)
			w.WriteHeader(http.StatusInternalServerError)
		}, true, http.StatusCreated},
		{"ok/header_after_body_ignored", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte("hi"))
			w.WriteHeader(http.StatusTeapot)
		}, true, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			under := httptest.NewRecorder()
			rec := &StatusRecorder{ResponseWriter: under}
			tt.handler(rec)
			if rec.Written() != tt.written || rec.Status() != tt.status {
				t.Errorf("Written %v, Status %d; want %v, %d", rec.Written(), rec.Status(), tt.written, tt.status)
			}
			if tt.written && under.Code != rec.Status() {
				t.Errorf("underlying writer got %d, recorder says %d", under.Code, rec.Status())
			}
		})
	}
}

func TestStatusRecorderUnwraps(t *testing.T) {
	t.Parallel()
	under := httptest.NewRecorder()
	rec := &StatusRecorder{ResponseWriter: under}
	if err := http.NewResponseController(rec).Flush(); err != nil {
		t.Fatalf("Flush through the recorder: %v", err)
	}
	if !under.Flushed {
		t.Error("the underlying writer was not flushed")
	}
}
