package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var heldPollsRE = regexp.MustCompile(`(?m)^qrid_qr_held_polls (\S+)$`)

// TestGracefulShutdown sends SIGTERM to a real `qrid serve --dev` while it holds a
// token long-poll and reads the body of another request. The long-poll is answered
// at once with an OAuth answer (authorization_pending: poll again, elsewhere),
// both listeners refuse new connections, the request being read is still served in
// full, and qrid then exits 0 within its 20 s grace period.
func TestGracefulShutdown(t *testing.T) {
	bin := buildQrid(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	issuer := "http://" + addr
	srv := &faultServer{t: t, bin: []string{bin}, args: []string{
		"serve", "--dev", "--secret", goodSecret, "--admin-token", faultAdminToken,
		"--issuer", issuer, "--addr", addr, "--admin-addr", "127.0.0.1:0",
	}}
	srv.start()
	proc, exited := srv.running()
	adminAddr := strings.TrimPrefix(srv.adminURL, "http://")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("qrid's log:\n%s", srv.stderr.String())
		}
	})
	// One connection per request, so that no idle connection outlives its request.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	// A QR sign-in of the demo terminal client, nobody scans it.
	var da struct {
		DeviceCode string `json:"device_code"`
	}
	resp, err := client.PostForm(issuer+"/oauth2/device/auth", url.Values{"client_id": {demoCLIClientID}, "scope": {"openid"}})
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK || json.Unmarshal(body, &da) != nil || da.DeviceCode == "" {
		t.Fatalf("device authorization: %d %s", resp.StatusCode, body)
	}
	resp.Body.Close()

	// The relying party long-polls for up to 20 s.
	type pollAnswer struct {
		status int
		Error  string `json:"error"`
		err    error
	}
	polled := make(chan pollAnswer, 1)
	go func() {
		resp, err := client.PostForm(issuer+"/oauth2/token", url.Values{
			"grant_type": {faultDeviceGrant}, "device_code": {da.DeviceCode}, "client_id": {demoCLIClientID}, "wait": {"20"},
		})
		if err != nil {
			polled <- pollAnswer{err: err}
			return
		}
		defer resp.Body.Close()
		a := pollAnswer{status: resp.StatusCode}
		body, err := io.ReadAll(resp.Body)
		if err == nil {
			if jerr := json.Unmarshal(body, &a); jerr != nil {
				err = fmt.Errorf("answer %d is not JSON: %s", resp.StatusCode, body)
			}
		}
		a.err = err
		polled <- a
	}()
	waitUntil(t, 10*time.Second, "qrid to hold the long-poll", func() bool {
		n := heldPolls(t, client, issuer)
		return n == 1 || n < 0
	})
	if t.Failed() {
		t.FailNow()
	}

	// Another device authorization, whose body qrid is reading: it has asked for it
	// (100 Continue), and it has not come yet.
	form := url.Values{"client_id": {demoCLIClientID}, "scope": {"openid"}}.Encode()
	upload, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer upload.Close()
	if err := upload.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(upload, "POST /oauth2/device/auth HTTP/1.1\r\nHost: %s\r\n"+
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, len(form)); err != nil {
		t.Fatal(err)
	}
	uploadReader := bufio.NewReader(upload)
	if cont, err := http.ReadResponse(uploadReader, nil); err != nil || cont.StatusCode != http.StatusContinue {
		t.Fatalf("qrid did not ask for the body (100 Continue): %v %v", cont, err)
	}

	srv.signal(syscall.SIGTERM)
	signalled := time.Now()

	select {
	case a := <-polled:
		if a.err != nil || a.status != http.StatusBadRequest || a.Error != "authorization_pending" {
			t.Fatalf("the held long-poll was answered %d %q (%v), want 400 authorization_pending", a.status, a.Error, a.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the held long-poll was not answered within 10 s of SIGTERM")
	}
	answeredIn := time.Since(signalled)

	// The public listener was closed before held polls were released; the admin
	// listener is closed alongside.
	if err := dialRefused(addr); err != nil {
		t.Fatalf("public listener after SIGTERM: %v", err)
	}
	waitUntil(t, 5*time.Second, "the admin listener to refuse connections", func() bool { return dialRefused(adminAddr) == nil })
	select {
	case <-exited:
		t.Fatal("qrid exited while it was still reading a request")
	default:
	}

	// The rest of the body: the request is served in full, on a connection qrid
	// closes afterwards.
	if _, err := io.WriteString(upload, form); err != nil {
		t.Fatalf("sending the rest of the request: %v", err)
	}
	resp, err = http.ReadResponse(uploadReader, nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	var served struct {
		DeviceCode string `json:"device_code"`
	}
	if err != nil || resp.StatusCode != http.StatusOK || json.Unmarshal(body, &served) != nil || served.DeviceCode == "" {
		t.Fatalf("the request in flight was answered %d %s (%v), want 200 with a device_code", resp.StatusCode, body, err)
	}
	if !resp.Close {
		t.Error("the answer during shutdown does not say Connection: close")
	}

	select {
	case <-exited:
	case <-time.After(time.Until(signalled.Add(shutdownGrace))):
		t.Fatalf("qrid did not exit within its %s grace period", shutdownGrace)
	}
	if code := proc.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("qrid exited with %d after SIGTERM, want 0", code)
	}
	logs := srv.stderr.String()
	for _, want := range []string{"msg=\"shutting down\"", "msg=stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("qrid's log does not say %s", want)
		}
	}
	t.Logf("long-poll answered %s after SIGTERM, exit %s after it",
		answeredIn.Round(time.Millisecond), time.Since(signalled).Round(time.Millisecond))
}

// heldPolls reads qrid_qr_held_polls from /metrics; it fails t and returns -1 when
// it cannot.
func heldPolls(t *testing.T, client *http.Client, issuer string) int {
	t.Helper()
	resp, err := client.Get(issuer + "/metrics")
	if err != nil {
		t.Errorf("GET /metrics: %v", err)
		return -1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	m := heldPollsRE.FindSubmatch(body)
	if err != nil || m == nil {
		t.Errorf("GET /metrics: %d, no qrid_qr_held_polls (%v)", resp.StatusCode, err)
		return -1
	}
	n, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Errorf("qrid_qr_held_polls %q: %v", m[1], err)
		return -1
	}
	return int(n)
}

// dialRefused returns nil when a TCP connection to addr is refused, and says what
// happened otherwise.
func dialRefused(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	switch {
	case err == nil:
		conn.Close()
		return errors.New("a new connection was accepted")
	case errors.Is(err, syscall.ECONNREFUSED):
		return nil
	default:
		return fmt.Errorf("connecting: %v, want connection refused", err)
	}
}
