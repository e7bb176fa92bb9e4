package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	pgStopUsers   = 6 // one sign-in loop each
	pgStopPending = 3 // sign-ins that stay pending, polled throughout
	pgStopMixers  = 2 // loops of discovery and JWKS requests
	// pgStopRetry is how soon the load asks again after a 503: sooner than
	// Retry-After, so as to press on qrid while the store is away.
	pgStopRetry = 200 * time.Millisecond
)

// answerAudit checks every answer qrid gives the load while its database goes away
// and comes back. A 5xx other than 503, a 503 without a Retry-After of whole
// seconds, and a request that got no answer at all (a reset, a timeout) fail the
// test.
type answerAudit struct {
	t *testing.T

	mu          sync.Mutex
	unavailable map[string]int // 503 answers by path
}

// client returns an HTTP client whose answers the audit checks, connecting from
// localIP (any address when nil). A request that hangs fails at the client's
// timeout.
func (a *answerAudit) client(localIP net.IP) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if localIP != nil {
		dialer.LocalAddr = &net.TCPAddr{IP: localIP}
	}
	base := &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 100}
	return &http.Client{Timeout: 10 * time.Second, Transport: auditedTransport{audit: a, base: base}}
}

// auditedTransport is the http.RoundTripper of an answerAudit's client.
type auditedTransport struct {
	audit *answerAudit
	base  http.RoundTripper
}

func (at auditedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t := at.audit.t
	resp, err := at.base.RoundTrip(req)
	if err != nil {
		t.Errorf("%s %s: no answer: %v", req.Method, req.URL.Path, err)
		return nil, err
	}
	if resp.StatusCode < 500 {
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Errorf("%s %s: answer %d cut short: %v", req.Method, req.URL.Path, resp.StatusCode, err)
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, body)
		return resp, nil
	}
	if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("%s %s: 503 with Retry-After %q: %s", req.Method, req.URL.Path, resp.Header.Get("Retry-After"), body)
	}
	at.audit.mu.Lock()
	at.audit.unavailable[req.URL.Path]++
	at.audit.mu.Unlock()
	return resp, nil
}

// pgStopLogin is one QR sign-in of the load.
type pgStopLogin struct {
	deviceCode string
	// afterRecovery: the sign-in began once qrid was ready again.
	afterRecovery bool
	// caughtAt is the stage at which the stop caught the sign-in on purpose, if any.
	caughtAt string
	// approved: the phone's approval was answered.
	approved bool
	// lost are the steps PostgreSQL lost in its crash (its last relaxed commits),
	// which the person or the PC did again.
	lost []string
	// outcome is "tokens" or the final OAuth error of the device_code.
	outcome string
	tokens  int
}

// oauthAnswer is what the device authorization and token endpoints answer.
type oauthAnswer struct {
	Error                   string `json:"error"`
	QRStatus                string `json:"qr_status"`
	Interval                int    `json:"interval"`
	AccessToken             string `json:"access_token"`
	DeviceCode              string `json:"device_code"`
	VerificationURIComplete string `json:"verification_uri_complete"`
}

// TestPostgresStopStartUnderLoad stops PostgreSQL as a crash would (pg_ctl stop -m
// immediate) under a running qrid in the middle of QR sign-ins, pending polls and
// discovery and JWKS requests, and starts it again on the same port. While it is
// down, qrid answers 503 with Retry-After (never another 5xx, never no answer) and
// /readyz is not ready; once it is back the same qrid process serves again by
// itself: /readyz is ready and new QR sign-ins complete. Every sign-in ends in
// tokens exactly once or a clean OAuth error, and no device_code yields tokens
// twice.
//
// The crash may take the last fraction of a second of QR steps with it (they commit
// without waiting for the WAL flush; see storage/postgres): a sign-in caught
// half-way then finds its scan or approval gone and the person scans again, or its
// device authorization gone and its PC is told invalid_grant. No other sign-in may
// lose anything.
func TestPostgresStopStartUnderLoad(t *testing.T) {
	start := time.Now()
	cluster := newPGCluster(t)
	clusterTime := time.Since(start)
	bin := buildQrid(t)

	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	issuer := "http://" + addr
	srv := &faultServer{t: t, bin: []string{bin}, args: []string{
		"serve", "--dev", "--database-url", cluster.URL(), "--secret", goodSecret, "--admin-token", faultAdminToken,
		"--issuer", issuer, "--addr", addr, "--admin-addr", "127.0.0.1:0", "--qr-interval", "1s",
	}}
	srv.start()
	proc, exited := srv.running()
	pid := proc.Process.Pid
	logs := srv.stderr
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("qrid's log:\n%s", logs.String())
		}
	})

	audit := &answerAudit{t: t, unavailable: map[string]int{}}
	// qrid itself never goes away here: a request without an answer is not retried
	// (its deadline has passed already).
	h := &faultHTTP{client: audit.client(nil), deadline: time.Now()}
	defer h.client.CloseIdleConnections()
	client, phoneTokens := createFaultAccounts(t, h, srv.adminURL, issuer, pgStopUsers)
	// Each user's PC has an address of its own, as device authorizations are
	// limited per address (the whole of 127.0.0.0/8 is loopback).
	pcs := make([]*http.Client, pgStopUsers)
	for u := range pcs {
		pcs[u] = audit.client(net.IPv4(127, 0, 0, byte(10+u)))
		defer pcs[u].CloseIdleConnections()
	}

	stop := make(chan struct{})
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	pause := func(d time.Duration) {
		select {
		case <-stop:
		case <-time.After(d):
		}
	}
	var recovered atomic.Bool // set once /readyz is 200 after the restart
	var wg sync.WaitGroup
	stopLoad := sync.OnceFunc(func() {
		close(stop)
		done := make(chan struct{})
		go func() {
			wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			stacks := make([]byte, 1<<20)
			stacks = stacks[:runtime.Stack(stacks, true)]
			panic(fmt.Sprintf("the load did not stop within 30 s; goroutines:\n%s", stacks))
		}
	})
	defer stopLoad() // also when the test fails half-way: no request outlives it

	oauthPost := func(pc *http.Client, path string, form url.Values) (int, oauthAnswer, error) {
		status, body, err := h.doWith(pc, http.MethodPost, issuer+path, map[string]string{
			"Content-Type":  "application/x-www-form-urlencoded",
			"Authorization": basicAuth(client.ClientID, client.ClientSecret),
		}, []byte(form.Encode()))
		var a oauthAnswer
		if err != nil {
			return status, a, err
		}
		if err := json.Unmarshal(body, &a); err != nil {
			return status, a, fmt.Errorf("POST %s: %d answer is not JSON: %s", path, status, body)
		}
		if status == http.StatusServiceUnavailable && a.Error != "temporarily_unavailable" {
			return status, a, fmt.Errorf("POST %s: 503 answer %s, want error temporarily_unavailable", path, body)
		}
		return status, a, nil
	}
	// deviceAuthorization starts a QR sign-in, asking again while qrid is
	// unavailable (counting the refusals); ok is false when the load stopped first.
	deviceAuthorization := func(pc *http.Client, refused *atomic.Int64) (a oauthAnswer, ok bool) {
		for !stopped() {
			status, a, err := oauthPost(pc, "/oauth2/device/auth", url.Values{"scope": {"openid"}})
			switch {
			case err != nil:
				t.Errorf("device authorization: %v", err)
				return a, false
			case status == http.StatusOK && a.DeviceCode != "":
				return a, true
			case status == http.StatusServiceUnavailable:
				refused.Add(1)
				pause(pgStopRetry)
			default:
				t.Errorf("device authorization answered %d %+v", status, a)
				return a, false
			}
		}
		return oauthAnswer{}, false
	}
	poll := func(pc *http.Client, deviceCode string, wait int) (int, oauthAnswer, error) {
		return oauthPost(pc, "/oauth2/token", url.Values{
			"grant_type": {faultDeviceGrant}, "device_code": {deviceCode}, "wait": {strconv.Itoa(wait)},
		})
	}

	// The stop: once armed, every load goroutine parks once, at its next step,
	// until PostgreSQL is down; then they all go on together, so that their first
	// requests reach qrid before it can have noticed. Three sign-ins park half-way:
	// user 0's after its device authorization, user 1's after its scan, user 2's
	// after its approval.
	catchAt := map[int]string{0: "authorized", 1: "scanned", 2: "approved"}
	var armed atomic.Bool
	var parkedCount atomic.Int64
	pgDown := make(chan struct{})
	park := func(parked *atomic.Bool) bool {
		if !armed.Load() || !parked.CompareAndSwap(false, true) {
			return false
		}
		parkedCount.Add(1)
		select {
		case <-pgDown:
		case <-stop:
		}
		return true
	}
	var workerParked [pgStopUsers]atomic.Bool
	hold := func(u int, stage string, l *pgStopLogin) {
		if catchAt[u] == stage && park(&workerParked[u]) {
			l.caughtAt = stage
		}
	}

	// The sign-in loops: one per user, each a PC asking for a QR and polling, and
	// the user's phone scanning and approving it.
	logins := make([][]*pgStopLogin, pgStopUsers)
	var refusedLogins [pgStopUsers]atomic.Int64 // 503 answers each loop got
	var doneBefore, doneAfter [pgStopUsers]atomic.Int64
	// phone is the user's phone scanning and approving l's QR, each step asked again
	// while qrid is unavailable. It reports whether the PC should poll: not when the
	// load stopped or the phone met an answer it cannot deal with.
	phone := func(u int, l *pgStopLogin, qr string) bool {
		hd := map[string]string{"X-Device-Id": fmt.Sprintf("phone-%d", u)}
		var confirmToken string
		refusedConfirm := false
		for !stopped() {
			if confirmToken == "" {
				var sc struct {
					Error        string `json:"error"`
					ConfirmToken string `json:"confirm_token"`
				}
				status, err := h.json(http.MethodPost, issuer+"/api/mobile/v1/qr/scan", phoneTokens[u], hd,
					map[string]any{"qr": qr}, &sc)
				switch {
				case err != nil:
					t.Errorf("user %d: scan: %v", u, err)
					return false
				case status == http.StatusOK && sc.ConfirmToken != "":
					confirmToken = sc.ConfirmToken
					hold(u, "scanned", l)
				case status == http.StatusServiceUnavailable:
					refusedLogins[u].Add(1)
					pause(pgStopRetry)
				case status == http.StatusTooManyRequests:
					pause(time.Second)
				case status == http.StatusNotFound && sc.Error == "not_found":
					// The device authorization was lost with PostgreSQL's last commits:
					// the PC learns it from its poll.
					l.lost = append(l.lost, "authorization")
					return true
				default:
					t.Errorf("user %d: scan answered %d %+v", u, status, sc)
					return false
				}
				continue
			}
			var c struct {
				Error    string `json:"error"`
				Decision string `json:"status"`
			}
			status, err := h.json(http.MethodPost, issuer+"/api/mobile/v1/qr/confirm", phoneTokens[u], hd,
				map[string]any{"confirm_token": confirmToken, "approve": true}, &c)
			switch {
			case err != nil:
				t.Errorf("user %d: confirm: %v", u, err)
				return false
			case status == http.StatusOK && c.Decision == "approved",
				// An earlier confirm was applied, its answer lost with the store.
				status == http.StatusConflict && c.Error == "already_used" && refusedConfirm:
				l.approved = true
				hold(u, "approved", l)
				return true
			case status == http.StatusNotFound && c.Error == "invalid_token":
				// The scan was lost with PostgreSQL's last commits: scan again.
				l.lost = append(l.lost, "scan")
				confirmToken = ""
			case status == http.StatusServiceUnavailable:
				refusedLogins[u].Add(1)
				refusedConfirm = true
				pause(pgStopRetry)
			default:
				t.Errorf("user %d: confirm answered %d %+v", u, status, c)
				return false
			}
		}
		return false
	}
	// pcPolls polls l until it ends, and reports whether the phone must approve
	// again: a sign-in still pending after the phone's approval lost it with
	// PostgreSQL's last commits, and the person scans again.
	pcPolls := func(u int, l *pgStopLogin) (again bool) {
		for !stopped() {
			status, a, err := poll(pcs[u], l.deviceCode, 2)
			switch {
			case err != nil:
				t.Errorf("user %d: poll: %v", u, err)
				return false
			case status == http.StatusOK && a.AccessToken != "":
				l.tokens++
				l.outcome = "tokens"
				return false
			case status == http.StatusServiceUnavailable:
				refusedLogins[u].Add(1)
				pause(pgStopRetry)
			case status == http.StatusBadRequest && a.Error == "authorization_pending" && l.approved:
				l.lost = append(l.lost, "approval (qr_status "+a.QRStatus+")")
				l.approved = false
				return true
			case status == http.StatusBadRequest && a.Error == "authorization_pending":
			case status == http.StatusBadRequest && a.Error == "slow_down":
				pause(time.Duration(max(a.Interval, 1)) * time.Second)
			case status == http.StatusBadRequest && (a.Error == "expired_token" || a.Error == "access_denied" || a.Error == "invalid_grant"):
				l.outcome = a.Error
				return false
			default:
				t.Errorf("user %d: poll answered %d %+v", u, status, a)
				return false
			}
		}
		return false
	}
	signIn := func(u int) *pgStopLogin {
		after := recovered.Load()
		da, ok := deviceAuthorization(pcs[u], &refusedLogins[u])
		if !ok {
			return nil
		}
		l := &pgStopLogin{deviceCode: da.DeviceCode, afterRecovery: after}
		hold(u, "authorized", l)
		for phone(u, l, da.VerificationURIComplete) && pcPolls(u, l) {
			if len(l.lost) > 3 {
				t.Errorf("user %d: a sign-in lost steps %v", u, l.lost)
				break
			}
		}
		return l
	}
	for u := range pgStopUsers {
		wg.Go(func() {
			for !stopped() && !t.Failed() {
				if _, caught := catchAt[u]; !caught {
					park(&workerParked[u])
				}
				began := time.Now()
				l := signIn(u)
				if l == nil {
					return
				}
				logins[u] = append(logins[u], l)
				if l.outcome == "tokens" {
					if l.afterRecovery {
						doneAfter[u].Add(1)
					} else {
						doneBefore[u].Add(1)
					}
				}
				// A sign-in a second at most: the phone may scan 10 codes a minute.
				pause(time.Until(began.Add(time.Second)))
			}
		})
	}

	// Sign-ins nobody scans: their PCs poll throughout, and they are still pending
	// afterwards.
	pendingCodes := make([]string, pgStopPending)
	var pendingPolls, pendingRefused atomic.Int64
	var pendingParked [pgStopPending]atomic.Bool
	for i := range pgStopPending {
		wg.Go(func() {
			da, ok := deviceAuthorization(h.client, &pendingRefused)
			if !ok {
				return
			}
			pendingCodes[i] = da.DeviceCode
			for !stopped() && !t.Failed() {
				park(&pendingParked[i])
				status, a, err := poll(h.client, da.DeviceCode, 2)
				switch {
				case err != nil:
					t.Errorf("pending poll: %v", err)
					return
				case status == http.StatusServiceUnavailable:
					pendingRefused.Add(1)
					pause(pgStopRetry)
				case status == http.StatusBadRequest && a.Error == "authorization_pending":
					pendingPolls.Add(1)
				case status == http.StatusBadRequest && a.Error == "slow_down":
					pause(time.Duration(max(a.Interval, 1)) * time.Second)
				default:
					t.Errorf("a pending sign-in was answered %d %+v", status, a)
					return
				}
			}
		})
	}

	// Discovery and JWKS, as relying parties fetch them.
	var mixServed atomic.Int64
	var mixerParked [pgStopMixers]atomic.Bool
	for i := range pgStopMixers {
		wg.Go(func() {
			for !stopped() && !t.Failed() {
				park(&mixerParked[i])
				for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/jwks.json"} {
					status, body, err := h.do(http.MethodGet, issuer+path, nil, nil)
					switch {
					case err != nil:
						t.Errorf("GET %s: %v", path, err)
						return
					case status == http.StatusOK:
						var doc map[string]any
						if err := json.Unmarshal(body, &doc); err != nil || len(doc) == 0 {
							t.Errorf("GET %s: 200 answer %s", path, body)
							return
						}
						mixServed.Add(1)
					case status != http.StatusServiceUnavailable:
						t.Errorf("GET %s answered %d %s", path, status, body)
						return
					}
				}
				pause(50 * time.Millisecond)
			}
		})
	}

	get := func(path string) int {
		resp, err := h.client.Get(issuer + path)
		if err != nil {
			t.Errorf("GET %s: %v", path, err)
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	all := func(counts *[pgStopUsers]atomic.Int64, atLeast int64) func() bool {
		return func() bool {
			for u := range counts {
				if counts[u].Load() < atLeast {
					return t.Failed()
				}
			}
			return true
		}
	}
	failNow := func() {
		if t.Failed() {
			t.FailNow()
		}
	}

	// Before: every loop completes sign-ins.
	waitUntil(t, 15*time.Second, "a sign-in of every user before the stop", all(&doneBefore, 1))
	failNow()
	if status := get("/readyz"); status != http.StatusOK {
		t.Fatalf("readyz = %d before the stop", status)
	}

	// PostgreSQL goes away at once, as after a crash, with sign-ins half-way.
	armed.Store(true)
	waitUntil(t, 15*time.Second, "the load to park", func() bool {
		return t.Failed() || parkedCount.Load() == pgStopUsers+pgStopPending+pgStopMixers
	})
	failNow()
	stoppedAt := time.Now()
	cluster.stop("immediate")
	close(pgDown)
	waitUntil(t, 10*time.Second, "discovery to answer 503", func() bool {
		return t.Failed() || get("/.well-known/openid-configuration") == http.StatusServiceUnavailable
	})
	failNow()
	refusingAfter := time.Since(stoppedAt)
	if status := get("/readyz"); status == http.StatusOK {
		t.Errorf("readyz = 200 while PostgreSQL is stopped")
	}
	// The outage lasts until every sign-in loop has been refused.
	waitUntil(t, 10*time.Second, "every sign-in loop to be answered 503", all(&refusedLogins, 1))
	failNow()
	pendingBefore, mixBefore := pendingPolls.Load(), mixServed.Load()

	// PostgreSQL comes back on the same port; qrid is not touched.
	cluster.start()
	restartedAt := time.Now()
	waitUntil(t, 20*time.Second, "readyz to answer 200 after the restart", func() bool {
		return t.Failed() || get("/readyz") == http.StatusOK
	})
	failNow()
	recovered.Store(true)
	readyAfter := time.Since(restartedAt)
	waitUntil(t, 20*time.Second, "two new sign-ins of every user after the restart", all(&doneAfter, 2))
	waitUntil(t, 10*time.Second, "pending polls and discovery to be served again", func() bool {
		return t.Failed() || pendingPolls.Load() > pendingBefore && mixServed.Load() > mixBefore
	})
	failNow()
	stopLoad()
	select {
	case <-exited:
		t.Fatalf("qrid exited; stderr:\n%s", srv.stderr.String())
	default:
	}
	if proc, _ := srv.running(); proc.Process.Pid != pid {
		t.Fatalf("qrid runs as PID %d, want %d: it was restarted", proc.Process.Pid, pid)
	}

	// Every sign-in ended in tokens exactly once or in a clean OAuth error, and a
	// device_code that gave tokens gives none again.
	// Only the sign-ins the stop caught half-way may have lost steps; they end in
	// tokens all the same, but for one whose device authorization was lost, which
	// its PC is told (invalid_grant).
	outcomes := map[string]int{}
	var lost []string
	for u := range logins {
		for i, l := range logins[u] {
			if l.outcome == "" {
				// Left half-way by the end of the load: one more poll ends it or
				// finds it still pending.
				status, a, err := poll(h.client, l.deviceCode, 0)
				switch {
				case err == nil && status == http.StatusOK && a.AccessToken != "":
					l.tokens++
					l.outcome = "tokens"
				case err == nil && status == http.StatusBadRequest && (a.Error == "authorization_pending" || a.Error == "slow_down"):
					outcomes["left pending"]++
					continue
				default:
					t.Errorf("user %d, sign-in %d (left half-way): poll answered %d %+v %v", u, i, status, a, err)
					continue
				}
			}
			outcomes[l.outcome]++
			authorizationLost := slices.Contains(l.lost, "authorization")
			switch {
			case len(l.lost) > 0 && l.caughtAt == "":
				t.Errorf("user %d, sign-in %d: lost %v, but it was not in flight when PostgreSQL stopped", u, i, l.lost)
			case l.caughtAt != "" && l.outcome != "tokens" && !(authorizationLost && l.outcome == "invalid_grant"):
				t.Errorf("user %d, sign-in %d, %s when PostgreSQL stopped (lost %v): ended in %q, want tokens once it was back",
					u, i, l.caughtAt, l.lost, l.outcome)
			}
			if len(l.lost) > 0 {
				lost = append(lost, fmt.Sprintf("%s: %s", l.caughtAt, strings.Join(l.lost, ", ")))
			}
			if l.tokens > 1 {
				t.Errorf("user %d, sign-in %d: tokens issued %d times", u, i, l.tokens)
			}
			status, a, err := poll(h.client, l.deviceCode, 0)
			want := l.outcome
			if want == "tokens" {
				want = "invalid_grant"
			}
			if err != nil || status != http.StatusBadRequest || a.Error != want {
				t.Errorf("user %d, sign-in %d (%s): a second poll answered %d %+v %v, want 400 %s", u, i, l.outcome, status, a, err, want)
			}
		}
	}
	for i, code := range pendingCodes {
		status, a, err := poll(h.client, code, 0)
		if err != nil || status != http.StatusBadRequest || (a.Error != "authorization_pending" && a.Error != "slow_down") {
			t.Errorf("pending sign-in %d after the restart: poll answered %d %+v %v, want it still pending", i, status, a, err)
		}
	}

	audit.mu.Lock()
	unavailable := fmt.Sprint(audit.unavailable)
	audit.mu.Unlock()
	var refusedSteps int64
	for u := range refusedLogins {
		refusedSteps += refusedLogins[u].Load()
	}
	for _, want := range []string{"the store does not answer; refusing requests", "the store answers again; serving requests"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("qrid's log does not say %q", want)
		}
	}
	t.Logf("total %s (cluster made in %s); 503 from %s after the stop, ready %s after the restart; outcomes %v; "+
		"lost in the crash %v; 503 answers by path %s (%d to the sign-ins' steps, %d to the pending polls)",
		time.Since(start).Round(time.Millisecond), clusterTime.Round(time.Millisecond), refusingAfter.Round(time.Millisecond),
		readyAfter.Round(time.Millisecond), outcomes, lost, unavailable, refusedSteps, pendingRefused.Load())
}
