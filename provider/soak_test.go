package provider_test

// TestSoakQRLogins runs many complete QR logins at once across two qrid nodes that
// share one PostgreSQL database.
//
// By default (and in CI) it is the short version: 50 logins, a few seconds. The full
// soak is 1000 logins:
//
//	QRID_REQUIRE_POSTGRES=1 QRID_SOAK_LOGINS=1000 go test -run TestSoakQRLogins -timeout 10m ./provider/
//
// QRID_SOAK_LOGINS sets the number of logins to any positive count.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qrid/qrid/provider/admin"
)

const (
	soakDefaultLogins = 50
	soakLoginsPerUser = 8  // well under the per-account scan burst of 10
	soakLoginsPerAddr = 32 // per source address: under the device authorization burst (60) and held-poll cap (100)
)

// soakRoute sends a request to node "a" or "b" of the soak's balancer.
type soakRoute struct {
	rt   http.RoundTripper
	node string
}

func (s soakRoute) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Node", s.node)
	return s.rt.RoundTrip(r)
}

// soakDo sends one request and reads the answer; it never fails the test, so any
// goroutine may use it.
func soakDo(ctx context.Context, c *http.Client, method, u string, hdr map[string]string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// soakPhone is a signed-in phone of one user, with a client per node.
type soakPhone struct {
	user     admin.UserInfo
	deviceID string
	token    string
}

func (p *soakPhone) call(ctx context.Context, c *http.Client, issuer, path string, body any, out any) (int, error) {
	b, _ := json.Marshal(body)
	hdr := map[string]string{"Content-Type": "application/json"}
	if p.token != "" {
		hdr["Authorization"] = "Bearer " + p.token
		hdr["X-Device-Id"] = p.deviceID
	}
	status, resp, err := soakDo(ctx, c, http.MethodPost, issuer+path, hdr, b)
	if err != nil {
		return status, fmt.Errorf("%s: %w", path, err)
	}
	if err := json.Unmarshal(resp, out); err != nil {
		return status, fmt.Errorf("%s answered %d, not JSON: %s", path, status, resp)
	}
	if status >= 500 {
		return status, fmt.Errorf("%s answered %d: %s", path, status, resp)
	}
	return status, nil
}

func TestSoakQRLogins(t *testing.T) {
	n := soakDefaultLogins
	if s := os.Getenv("QRID_SOAK_LOGINS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			t.Fatalf("QRID_SOAK_LOGINS=%q: want a positive number", s)
		}
		n = v
	}

	e, nodes, shell := newTwoNodes(t)
	verifier := e.verifier(shell.ClientID)

	// Everything below must finish by this deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute+time.Duration(n)*100*time.Millisecond)
	defer cancel()

	// Clients: one transport per source address (PCs) and one for the phones, each
	// routed to either node.
	var transports []*http.Transport
	newTransport := func(local net.Addr) *http.Transport {
		d := &net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}
		tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64}
		transports = append(transports, tr)
		return tr
	}
	defer func() {
		for _, tr := range transports {
			tr.CloseIdleConnections()
		}
	}()
	routed := func(tr http.RoundTripper) [2]*http.Client {
		return [2]*http.Client{
			{Transport: soakRoute{tr, "a"}, Timeout: 40 * time.Second},
			{Transport: soakRoute{tr, "b"}, Timeout: 40 * time.Second},
		}
	}
	nAddr := (n + soakLoginsPerAddr - 1) / soakLoginsPerAddr
	if nAddr > 200 {
		t.Fatalf("%d logins need more than 200 source addresses", n)
	}
	pcs := make([][2]*http.Client, nAddr)
	for i := range pcs {
		pcs[i] = routed(newTransport(&net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(20+i))}))
	}
	phoneClients := routed(newTransport(nil))

	// Users and their phones, made in parallel (each costs two argon2 computations);
	// a few at a time, so that the mobile login's per-address limit (charged up
	// front, refunded on success) is never reached.
	nUsers := (n + soakLoginsPerUser - 1) / soakLoginsPerUser
	phones := make([]*soakPhone, nUsers)
	setupStart := time.Now()
	{
		var wg sync.WaitGroup
		errs := make(chan error, nUsers)
		sem := make(chan struct{}, 4)
		for u := range phones {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				name := fmt.Sprintf("soak-%d", u)
				user, err := nodes[u%2].Admin().CreateUser(ctx, admin.NewUser{Username: name, Password: testPassword, Name: "Soak " + name})
				if err != nil {
					errs <- fmt.Errorf("create user %s: %w", name, err)
					return
				}
				p := &soakPhone{user: user, deviceID: "soak-phone-" + strconv.Itoa(u)}
				var r struct {
					Token string `json:"token"`
				}
				status, err := p.call(ctx, phoneClients[u%2], e.issuer, "/api/mobile/v1/login", map[string]any{
					"username": name, "password": testPassword, "device_id": p.deviceID, "device_type": "ios", "device_name": "Soak phone " + name,
				}, &r)
				if err == nil && (status != http.StatusOK || r.Token == "") {
					err = fmt.Errorf("mobile login of %s: %d", name, status)
				}
				if err != nil {
					errs <- err
					return
				}
				p.token = r.Token
				phones[u] = p
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	setup := time.Since(setupStart)

	// The logins. Login i authorizes and polls on node i%2 and is scanned and
	// confirmed on the other node by the phone of user i/soakLoginsPerUser.
	var (
		mu         sync.Mutex
		failures   []string
		tokens     = map[string]int{} // access token → login
		approvals  atomic.Int64
		deliveries atomic.Int64
		polls      atomic.Int64
	)
	fail := func(i int, format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf("login %d: ", i)+fmt.Sprintf(format, args...))
	}
	login := func(i int) {
		pcNode, phoneNode := i%2, 1-i%2
		pc := pcs[i%nAddr][pcNode]
		ph := phones[i/soakLoginsPerUser]
		phoneClient := phoneClients[phoneNode]
		formHdr := map[string]string{
			"Content-Type":  "application/x-www-form-urlencoded",
			"Authorization": "Basic " + basicCredentials(shell),
		}

		status, body, err := soakDo(ctx, pc, http.MethodPost, e.issuer+"/oauth2/device/auth", formHdr, []byte(url.Values{"scope": {"openid profile"}}.Encode()))
		if err != nil || status != http.StatusOK {
			fail(i, "device authorization: %d %s %v", status, body, err)
			return
		}
		var da deviceAuth
		if err := json.Unmarshal(body, &da); err != nil || da.DeviceCode == "" {
			fail(i, "device authorization answer: %s", body)
			return
		}

		// The PC long-polls until it gets an answer other than authorization_pending.
		pollForm := []byte(url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
			"device_code": {da.DeviceCode}, "wait": {"25"}}.Encode())
		poll := func() (pollAnswer, error) {
			polls.Add(1)
			status, body, err := soakDo(ctx, pc, http.MethodPost, e.issuer+"/oauth2/token", formHdr, pollForm)
			a := pollAnswer{Status: status}
			if err != nil {
				return a, err
			}
			if err := json.Unmarshal(body, &a); err != nil {
				return a, fmt.Errorf("poll answer %d is not JSON: %s", status, body)
			}
			return a, nil
		}
		answer := make(chan pollAnswer, 1)
		go func() {
			for {
				a, err := poll()
				if err != nil {
					fail(i, "poll: %v", err)
					close(answer)
					return
				}
				if a.Status == http.StatusBadRequest && a.Error == "authorization_pending" {
					continue
				}
				answer <- a
				return
			}
		}()

		var sc scanAnswer
		status, err = ph.call(ctx, phoneClient, e.issuer, "/api/mobile/v1/qr/scan", map[string]any{"qr": da.VerificationURIComplete}, &sc)
		if err != nil || status != http.StatusOK || sc.ConfirmToken == "" {
			fail(i, "scan: %d %+v %v", status, sc, err)
			cancel() // the poll would wait for nothing
			<-answer
			return
		}
		var c confirmAnswer
		status, err = ph.call(ctx, phoneClient, e.issuer, "/api/mobile/v1/qr/confirm", map[string]any{"confirm_token": sc.ConfirmToken, "approve": true}, &c)
		if err != nil || status != http.StatusOK || c.Decision != "approved" {
			fail(i, "confirm: %d %+v %v", status, c, err)
			cancel()
			<-answer
			return
		}
		approvals.Add(1)

		a, ok := <-answer
		if !ok {
			return
		}
		if a.Status != http.StatusOK || a.AccessToken == "" || a.IDToken == "" {
			fail(i, "the poll after the approval answered %+v", a)
			return
		}
		deliveries.Add(1)
		mu.Lock()
		prev, dup := tokens[a.AccessToken]
		tokens[a.AccessToken] = i
		mu.Unlock()
		if dup {
			fail(i, "got the access token of login %d", prev)
		}
		idt, err := verifier.Verify(ctx, a.IDToken)
		if err != nil {
			fail(i, "ID token: %v", err)
		} else if idt.Subject != ph.user.ID {
			fail(i, "ID token for %s, want %s", idt.Subject, ph.user.ID)
		}

		// The tokens are delivered once: a second poll is refused.
		again, err := poll()
		if err != nil {
			fail(i, "second poll: %v", err)
		} else if again.Status != http.StatusBadRequest || again.Error != "invalid_grant" {
			fail(i, "a second poll after the tokens answered %+v", again)
			if again.AccessToken != "" {
				deliveries.Add(1)
			}
		}
	}

	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				login(i)
			}()
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-ctx.Done():
		<-done // every request carries ctx, so the logins end now
		t.Errorf("the soak did not finish in time")
	}
	elapsed := time.Since(start)

	mu.Lock()
	defer mu.Unlock()
	for k, f := range failures {
		if k == 20 {
			t.Errorf("... and %d more failures", len(failures)-20)
			break
		}
		t.Error(f)
	}
	if a, d := approvals.Load(), deliveries.Load(); a != int64(n) || d != int64(n) || len(tokens) != n {
		t.Errorf("%d logins: %d approvals, %d token deliveries, %d distinct access tokens", n, a, d, len(tokens))
	}
	for _, node := range nodes {
		if h := node.HeldPolls(); h != 0 {
			t.Errorf("%d polls still held after the soak", h)
		}
	}
	t.Logf("%d QR logins on two nodes (%d users, %d source addresses): setup %v, logins %v (%.0f/s), %d polls",
		n, nUsers, nAddr, setup.Round(time.Millisecond), elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), polls.Load())
}

// basicCredentials is the value of HTTP Basic authentication for a client.
func basicCredentials(c admin.ClientInfo) string {
	return basicAuthValue(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
}

func basicAuthValue(user, pass string) string {
	req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}
