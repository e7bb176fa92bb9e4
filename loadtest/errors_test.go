package loadtest

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestAnswerFailureKinds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		step    step
		status  int
		body    string
		kind    string
		limited bool
	}{
		{"ok/OAuth error code", stepToken, 400, `{"error":"invalid_grant","error_description":"gone"}`, "token:invalid_grant", false},
		{"ok/mobile API error code", stepScan, 409, `{"error":"already_scanned","message":"taken"}`, "scan:already_scanned", false},
		{"ok/429 is rate_limited whatever its code", stepDeviceAuth, 429, `{"error":"slow_down"}`, "device_auth:rate_limited", true},
		{"ok/429 without a body", stepScan, 429, ``, "scan:rate_limited", true},
		{"ok/no code: the status", stepConfirm, 502, `<html>bad gateway</html>`, "confirm:502", false},
		{"ok/a strange code: the status", stepToken, 400, `{"error":"Something Odd!"}`, "token:400", false},
		{"ok/slow_down at the token endpoint", stepPoll, 400, `{"error":"slow_down","interval":10}`, "poll:slow_down", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := answerFailure(tc.step, tc.status, []byte(tc.body))
			if f.kind != tc.kind || f.limited != tc.limited {
				t.Errorf("kind %q limited %v, want %q %v (%v)", f.kind, f.limited, tc.kind, tc.limited, f)
			}
		})
	}
}

func TestTransportFailureKinds(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	release := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release // answers only once the test is over
	}))
	defer silent.Close()
	defer close(release)

	w := newWire(4)
	defer w.close()
	var buf bytes.Buffer
	_, err = w.postForm(context.Background(), closed, "", "a=b", &buf)
	if f := transportFailure(err); f.kind != "transport:refused" {
		t.Errorf("a closed port: %q (%v), want transport:refused", f.kind, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = w.postForm(ctx, silent.URL, "", "a=b", &buf)
	if f := transportFailure(err); f.kind != "transport:timeout" {
		t.Errorf("a server that does not answer: %q (%v), want transport:timeout", f.kind, err)
	}
}
