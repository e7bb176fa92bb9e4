package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qrid/qrid/storage/postgres"
)

const (
	faultUsers         = 10
	faultLoginsPerUser = 10
	faultLogins        = faultUsers * faultLoginsPerUser
	faultAdminToken    = "fault-admin-token"
	faultDeviceGrant   = "urn:ietf:params:oauth:grant-type:device_code"
)

// faultServer is a qrid binary run as a subprocess, killed and restarted on one
// database, secret and port.
type faultServer struct {
	t         *testing.T
	bin, args []string
	mu        sync.Mutex
	cmd       *exec.Cmd
	exited    chan struct{} // closed when cmd has ended
	stderr    *syncBuffer   // the log of the current run
	adminURL  string
}

// start runs the binary and waits until both listeners are up.
func (s *faultServer) start() {
	t := s.t
	t.Helper()
	stdout, stderr := newSyncBuffer(), newSyncBuffer()
	cmd := exec.Command(s.bin[0], s.args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start qrid: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited, s.stderr = cmd, exited, stderr
	s.mu.Unlock()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	logs, ok := waitOutput(t, stderr, exited, 30*time.Second, "both listening log lines", func(s string) bool {
		return len(listeningRE.FindAllString(s, -1)) == 2
	})
	if !ok {
		t.Fatalf("qrid exited before listening; stderr:\n%s", stderr.String())
	}
	for _, m := range listeningRE.FindAllStringSubmatch(logs, -1) {
		if m[1] == "admin" {
			s.adminURL = "http://" + m[2]
		}
	}
}

// kill sends SIGKILL to the running server.
func (s *faultServer) kill() { s.signal(os.Kill) }

// signal sends sig to the running server.
func (s *faultServer) signal(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Errorf("signal %v: %v", sig, err)
	}
}

// running returns the current run's process and a channel closed when it ends.
func (s *faultServer) running() (*exec.Cmd, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd, s.exited
}

// faultHTTP makes requests that are retried while the server is down, and records
// every status.
type faultHTTP struct {
	client    *http.Client
	deadline  time.Time
	connErrs  atomic.Int64
	mu        sync.Mutex
	serverErr []string // 5xx answers
}

// do sends a request until a server answers; header values are set as given.
func (h *faultHTTP) do(method, uri string, header map[string]string, body []byte) (int, []byte, error) {
	return h.doWith(h.client, method, uri, header, body)
}

func (h *faultHTTP) doWith(client *http.Client, method, uri string, header map[string]string, body []byte) (int, []byte, error) {
	for {
		req, err := http.NewRequest(method, uri, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil {
				if resp.StatusCode >= 500 {
					h.mu.Lock()
					h.serverErr = append(h.serverErr, fmt.Sprintf("%s %s: %d %s", method, uri, resp.StatusCode, b))
					h.mu.Unlock()
				}
				return resp.StatusCode, b, nil
			}
			err = rerr
		}
		// The server is being killed or restarted: try again.
		h.connErrs.Add(1)
		if time.Now().After(h.deadline) {
			return 0, nil, fmt.Errorf("%s %s: %w (no answer, and the deadline for retries has passed)", method, uri, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *faultHTTP) json(method, uri, bearer string, header map[string]string, in, out any) (int, error) {
	b, _ := json.Marshal(in)
	hd := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + bearer}
	for k, v := range header {
		hd[k] = v
	}
	status, body, err := h.do(method, uri, hd, b)
	if err != nil {
		return 0, err
	}
	if out != nil && len(body) > 0 {
		if err := json.Unmarshal(body, out); err != nil {
			return status, fmt.Errorf("%s %s: %d answer is not JSON: %s", method, uri, status, body)
		}
	}
	return status, nil
}

// faultLogin is one QR sign-in of the test.
type faultLogin struct {
	user       int
	deviceCode string
	qr         string // verification_uri_complete
	tokens     atomic.Int64
	outcome    string // "tokens" or the final error
	run        int    // the server run that answered the outcome
}

// TestKillMidQRLogins kills a real qrid (SIGKILL) in the middle of 100 QR sign-ins on
// PostgreSQL, restarts it on the same database, and checks that every sign-in ends in
// tokens exactly once or a clean final error, and that no device_code yields tokens
// twice.
func TestKillMidQRLogins(t *testing.T) {
	dbURL := postgres.NewTestDatabase(t)
	start := time.Now()

	bin := buildQrid(t)
	buildTime := time.Since(start)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	issuer := "http://" + addr
	srv := &faultServer{t: t, bin: []string{bin}, args: []string{
		"serve", "--dev", "--database-url", dbURL, "--secret", goodSecret, "--admin-token", faultAdminToken,
		"--issuer", issuer, "--addr", addr, "--admin-addr", "127.0.0.1:0", "--qr-interval", "1s",
	}}
	srv.start()

	h := &faultHTTP{
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConns: 400, MaxIdleConnsPerHost: 400, IdleConnTimeout: 30 * time.Second,
		}},
		deadline: time.Now().Add(90 * time.Second),
	}
	defer h.client.CloseIdleConnections()

	client, phoneTokens := createFaultAccounts(t, h, srv.adminURL, issuer, faultUsers)
	var wg sync.WaitGroup

	// 100 QR sessions, asked for from two PC addresses since device authorizations
	// are limited to 60 at once per address (the whole of 127.0.0.0/8 is loopback).
	pcs := make([]*http.Client, 2)
	for n := range pcs {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(10+n))}, Timeout: 5 * time.Second}
		pcs[n] = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext}}
		defer pcs[n].CloseIdleConnections()
	}
	logins := make([]*faultLogin, faultLogins)
	for i := range logins {
		form := url.Values{"scope": {"openid"}}
		status, body, err := h.doWith(pcs[i%2], http.MethodPost, issuer+"/oauth2/device/auth", map[string]string{
			"Content-Type":  "application/x-www-form-urlencoded",
			"Authorization": basicAuth(client.ClientID, client.ClientSecret),
		}, []byte(form.Encode()))
		var da struct {
			DeviceCode              string `json:"device_code"`
			VerificationURIComplete string `json:"verification_uri_complete"`
		}
		if err != nil || status != http.StatusOK || json.Unmarshal(body, &da) != nil || da.DeviceCode == "" {
			t.Fatalf("device authorization %d: %d %v %s", i, status, err, body)
		}
		logins[i] = &faultLogin{user: i / faultLoginsPerUser, deviceCode: da.DeviceCode, qr: da.VerificationURIComplete}
	}

	// run is 1 until the kill, 2 from then on.
	var run atomic.Int64
	run.Store(1)
	restarted := make(chan struct{})
	var killOnce sync.Once
	var confirmed, deliveredRun1 atomic.Int64
	var atKillConfirmed, atKillDelivered int64
	killed := make(chan struct{})
	kill := func() {
		killOnce.Do(func() {
			atKillConfirmed, atKillDelivered = confirmed.Load(), deliveredRun1.Load()
			run.Store(2)
			srv.kill()
			close(killed)
		})
	}

	// poll polls one device_code once (a long-poll), returning the answer.
	type pollAnswer struct {
		Status      int
		Error       string `json:"error"`
		Interval    int    `json:"interval"`
		AccessToken string `json:"access_token"`
	}
	poll := func(l *faultLogin, wait int) (pollAnswer, int, error) {
		form := url.Values{"grant_type": {faultDeviceGrant}, "device_code": {l.deviceCode}}
		if wait > 0 {
			form.Set("wait", strconv.Itoa(wait))
		}
		r := int(run.Load())
		status, body, err := h.do(http.MethodPost, issuer+"/oauth2/token", map[string]string{
			"Content-Type":  "application/x-www-form-urlencoded",
			"Authorization": basicAuth(client.ClientID, client.ClientSecret),
		}, []byte(form.Encode()))
		a := pollAnswer{Status: status}
		if err != nil {
			return a, r, err
		}
		if err := json.Unmarshal(body, &a); err != nil {
			return a, r, fmt.Errorf("poll answer %d is not JSON: %s", status, body)
		}
		if status == http.StatusOK && a.AccessToken != "" {
			l.tokens.Add(1)
		}
		return a, r, nil
	}

	// The PCs: three of four poll from the start; every fourth waits for the restart,
	// so that sessions approved before the kill are delivered by the new process.
	for i, l := range logins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%4 == 3 {
				<-restarted
			}
			for {
				a, r, err := poll(l, 5)
				if err != nil {
					t.Errorf("login %d: %v", i, err)
					return
				}
				switch {
				case a.Status == http.StatusOK && a.AccessToken != "":
					l.outcome, l.run = "tokens", r
					if r == 1 {
						deliveredRun1.Add(1)
					}
					return
				case a.Error == "authorization_pending":
				case a.Error == "slow_down":
					time.Sleep(time.Duration(max(a.Interval, 1)) * time.Second)
				case a.Error == "expired_token" || a.Error == "access_denied" || a.Error == "invalid_grant":
					l.outcome, l.run = a.Error, r
					return
				default:
					t.Errorf("login %d: poll answered %+v", i, a)
					return
				}
			}
		}()
	}

	// The phones: each user scans and approves its ten sessions in turn; the approval
	// that makes half of them confirmed kills the server.
	var rescans, confirmRetries atomic.Int64
	for u := range faultUsers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hd := map[string]string{"X-Device-Id": fmt.Sprintf("phone-%d", u)}
			for j := range faultLoginsPerUser {
				i := u*faultLoginsPerUser + j
				l := logins[i]
			scan:
				for attempt := 0; ; attempt++ {
					if attempt == 10 || time.Now().After(h.deadline) {
						t.Errorf("login %d: not confirmed after %d scans", i, attempt)
						return
					}
					if attempt > 0 {
						rescans.Add(1)
					}
					var sc struct {
						Error        string `json:"error"`
						ConfirmToken string `json:"confirm_token"`
					}
					status, err := h.json(http.MethodPost, issuer+"/api/mobile/v1/qr/scan", phoneTokens[u], hd,
						map[string]any{"qr": l.qr}, &sc)
					if err != nil {
						t.Errorf("login %d: scan: %v", i, err)
						return
					}
					if status == http.StatusTooManyRequests {
						time.Sleep(time.Second)
						continue
					}
					if status != http.StatusOK {
						t.Errorf("login %d: scan answered %d %+v", i, status, sc)
						return
					}
					for try := 0; ; try++ {
						var c struct {
							Error    string `json:"error"`
							Decision string `json:"status"`
						}
						before := run.Load()
						status, err := h.json(http.MethodPost, issuer+"/api/mobile/v1/qr/confirm", phoneTokens[u], hd,
							map[string]any{"confirm_token": sc.ConfirmToken, "approve": true}, &c)
						if err != nil {
							t.Errorf("login %d: confirm: %v", i, err)
							return
						}
						switch {
						case status == http.StatusOK && c.Decision == "approved":
						case status == http.StatusConflict && c.Error == "already_used" && (try > 0 || run.Load() != before):
							// The first confirm was applied, its answer lost in the kill.
						case status == http.StatusNotFound || status == http.StatusGone:
							continue scan
						default:
							t.Errorf("login %d: confirm answered %d %+v", i, status, c)
							return
						}
						if try > 0 {
							confirmRetries.Add(1)
						}
						if confirmed.Add(1) == faultLogins/2 {
							kill()
						}
						break scan
					}
				}
			}
		}()
	}

	select {
	case <-killed:
	case <-time.After(60 * time.Second):
		t.Fatal("half of the sign-ins were not confirmed within 60 s")
	}
	killedAt := time.Now()
	select {
	case <-srv.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("qrid did not die within 10 s of SIGKILL")
	}
	srv.start()
	close(restarted)
	downtime := time.Since(killedAt)

	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Until(h.deadline.Add(5 * time.Second))):
		t.Fatal("the sign-ins did not all end before the deadline")
	}

	// A second poll after the outcome never yields tokens: invalid_grant after
	// success, the same final error otherwise.
	counts := map[string]int{}
	perRun := [3]int{}
	for i, l := range logins {
		if l.outcome == "" {
			t.Errorf("login %d: no outcome", i)
			continue
		}
		counts[l.outcome]++
		if l.outcome == "tokens" {
			perRun[l.run]++
		}
		a, _, err := poll(l, 0)
		if err != nil {
			t.Errorf("login %d: poll again: %v", i, err)
			continue
		}
		want := l.outcome
		if want == "tokens" {
			want = "invalid_grant"
		}
		if a.Status != http.StatusBadRequest || a.Error != want {
			t.Errorf("login %d (%s): a second poll answered %+v, want 400 %s", i, l.outcome, a, want)
		}
		if n := l.tokens.Load(); n > 1 || (n == 1) != (l.outcome == "tokens") {
			t.Errorf("login %d (%s): tokens issued %d times", i, l.outcome, n)
		}
	}
	h.mu.Lock()
	for _, e := range h.serverErr {
		t.Errorf("5xx: %s", e)
	}
	h.mu.Unlock()
	if perRun[1] == 0 || perRun[2] == 0 {
		t.Errorf("tokens delivered per run = %v, want some before and some after the kill", perRun[1:])
	}
	if counts["tokens"]+counts["invalid_grant"] != faultLogins {
		t.Errorf("outcomes %v, want every sign-in to end in tokens (or invalid_grant when the tokens were lost in the kill)", counts)
	}
	t.Logf("build %s, total %s, restart took %s; at the kill: %d confirmed, %d delivered; outcomes %v; "+
		"tokens in run 1/2: %d/%d; confirmed %d, rescans %d, confirm retries %d, connection errors retried %d",
		buildTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), downtime.Round(time.Millisecond),
		atKillConfirmed, atKillDelivered, counts, perRun[1], perRun[2], confirmed.Load(), rescans.Load(),
		confirmRetries.Load(), h.connErrs.Load())
}

// buildQrid builds the qrid binary into a temporary directory of t and returns its
// path.
func buildQrid(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "qrid")
	build := exec.Command("go", "build", "-o", bin, "./cmd/qrid")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// faultClient is the confidential first-party device client of the fault tests (no
// number matching).
type faultClient struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// createFaultAccounts registers a faultClient through the admin API and creates the
// users fault0, fault1, ..., each signed in to the app on the phone phone-<n>
// through the public mobile API; it returns the client and the phones' device
// tokens.
func createFaultAccounts(t *testing.T, h *faultHTTP, adminURL, issuer string, users int) (faultClient, []string) {
	t.Helper()
	var client faultClient
	if status, err := h.json(http.MethodPost, adminURL+"/admin/v1/clients", faultAdminToken, nil, map[string]any{
		"client_name": "fault", "grant_types": []string{faultDeviceGrant}, "first_party": true,
	}, &client); err != nil || status != http.StatusCreated || client.ClientSecret == "" {
		t.Fatalf("create client: %d %v %+v", status, err, client)
	}
	phoneTokens := make([]string, users)
	var wg sync.WaitGroup
	for u := range users {
		wg.Go(func() {
			name, pass := fmt.Sprintf("fault%d", u), fmt.Sprintf("fault password %d", u)
			if status, err := h.json(http.MethodPost, adminURL+"/admin/v1/users", faultAdminToken, nil,
				map[string]any{"username": name, "password": pass}, nil); err != nil || status != http.StatusCreated {
				t.Errorf("create user %s: %d %v", name, status, err)
				return
			}
			var login struct {
				Token string `json:"token"`
			}
			status, err := h.json(http.MethodPost, issuer+"/api/mobile/v1/login", "", nil, map[string]any{
				"username": name, "password": pass, "device_id": fmt.Sprintf("phone-%d", u),
				"device_type": "cli", "device_name": fmt.Sprintf("Fault phone %d", u),
			}, &login)
			if err != nil || status != http.StatusOK || login.Token == "" {
				t.Errorf("phone login %s: %d %v", name, status, err)
				return
			}
			phoneTokens[u] = login.Token
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return client, phoneTokens
}

func basicAuth(id, secret string) string {
	req := &http.Request{Header: http.Header{}}
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return req.Header.Get("Authorization")
}
