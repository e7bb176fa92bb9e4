package provider_test

// Benchmarks of the QR grant through the real HTTP listener. They are not run by the
// normal test run (go test only compiles them); BENCHMARKS.md has the commands and
// the figures. The harness's newQREnv takes a *testing.T, so the environments here
// are built the same way by benchNode and benchQREnv, for a *testing.B.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qrid/qrid/provider"
	"github.com/qrid/qrid/provider/admin"
	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
	"github.com/qrid/qrid/storage/postgres"
)

// benchStores are the backends the single-node benchmarks run on.
var benchStores = []struct {
	name string
	open func(b *testing.B) storage.Storage
}{
	{"memory", func(*testing.B) storage.Storage { return memory.New() }},
	{"postgres", func(b *testing.B) storage.Storage { return postgres.NewTestStore(b) }},
}

// benchServer is a started listener whose handler is set once the provider exists
// (the provider needs the listener's URL as its issuer).
type benchServer struct {
	srv     *httptest.Server
	handler atomic.Value
}

func newBenchServer(b *testing.B) *benchServer {
	s := &benchServer{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	b.Cleanup(s.srv.Close)
	// Keep a connection per concurrent client (the default keeps 2 idle per host, and
	// parallel clients would otherwise open a new connection for most requests).
	s.srv.Client().Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	return s
}

// benchNode starts a provider on store behind s, with the QR settings of newQREnv.
// A zero ttl means newQREnv's 5 minutes.
func benchNode(b *testing.B, s *benchServer, store storage.Storage, issuer string, secret []byte, c *clock, ttl time.Duration) *provider.Provider {
	b.Helper()
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	p, err := provider.New(context.Background(), provider.Config{
		Issuer: issuer, Dev: true, Secret: secret, AdminToken: "admin-token",
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		QRInterval: time.Second, QRTTL: ttl, Now: c.Now,
		// One phone signs in thousands of times.
		NoRateLimits: true,
	}, store)
	if err != nil {
		b.Fatalf("provider.New: %v", err)
	}
	b.Cleanup(p.Close)
	s.handler.Store(p.PublicHandler())
	return p
}

// benchSeed creates the user alice and the first-party confidential device-flow
// client (no number matching) through p's admin service.
func benchSeed(b *testing.B, p *provider.Provider) (admin.UserInfo, admin.ClientInfo) {
	b.Helper()
	ctx := context.Background()
	user, err := p.Admin().CreateUser(ctx, admin.NewUser{Username: "alice", Password: testPassword, Name: "Alice Liddell", Email: "alice@example.com"})
	if err != nil {
		b.Fatalf("create user: %v", err)
	}
	shell, err := p.Admin().CreateClient(ctx, admin.ClientMetadata{ClientName: "qrid shell", FirstParty: true,
		GrantTypes: []string{admin.GrantDeviceCode, admin.GrantRefreshToken}})
	if err != nil {
		b.Fatalf("create client: %v", err)
	}
	return user, shell
}

// benchQREnv is newQREnv for a benchmark: one node on store, alice, and the shell
// client (q.tv is not created). A zero ttl means 5 minutes.
func benchQREnv(b *testing.B, store storage.Storage, ttl time.Duration) *qrEnv {
	b.Helper()
	c := newBenchClock()
	s := newBenchServer(b)
	secret := randomSecret(b)
	p := benchNode(b, s, store, s.srv.URL, secret, c, ttl)
	user, shell := benchSeed(b, p)
	return &qrEnv{
		env:   &env{srv: s.srv, p: p, store: store, issuer: s.srv.URL, secret: secret, user: user},
		clock: c, shell: shell,
	}
}

// benchAuthorize is q.authorize for any testing.TB.
func benchAuthorize(tb testing.TB, q *qrEnv, c admin.ClientInfo, scope string) deviceAuth {
	tb.Helper()
	status, body := q.postForm(tb, "/oauth2/device/auth", c, url.Values{"scope": {scope}})
	if status != http.StatusOK {
		tb.Fatalf("device authorization: %d %s", status, body)
	}
	var a deviceAuth
	if err := json.Unmarshal(body, &a); err != nil {
		tb.Fatal(err)
	}
	return a
}

// pollAsync is q.poll that reports errors instead of failing, for a goroutine (a
// benchmark may only fail from its own goroutine). at is when the answer was read.
type asyncPoll struct {
	answer pollAnswer
	at     time.Time
	err    error
}

func pollAsync(q *qrEnv, c admin.ClientInfo, deviceCode string, wait int) asyncPoll {
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {deviceCode}, "wait": {fmt.Sprint(wait)}}
	req, _ := http.NewRequest(http.MethodPost, q.issuer+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
	resp, err := q.srv.Client().Do(req)
	if err != nil {
		return asyncPoll{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	r := asyncPoll{answer: pollAnswer{Status: resp.StatusCode}, at: time.Now(), err: err}
	if err == nil {
		if err := json.Unmarshal(body, &r.answer); err != nil {
			r.err = fmt.Errorf("poll answer %d is not JSON: %s", resp.StatusCode, body)
		}
	}
	return r
}

// BenchmarkQRLogin runs one complete QR login per iteration through the listener:
// device authorization, the phone's scan and confirm, and one poll that gets the
// tokens (access token and an ES256 ID token; no refresh token). The client is first
// party, so there is no number matching. The phone signs in (argon2) once, before the
// timer starts.
func BenchmarkQRLogin(b *testing.B) {
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			q := benchQREnv(b, st.open(b), 0)
			ph := q.newPhone(b, "alice", testPassword, "bench-phone")
			b.ReportAllocs()
			scans := 0
			var steps [4]time.Duration // authorize, scan, confirm, token poll
			for b.Loop() {
				benchScanBudget(b, q.clock, &scans)
				t0 := time.Now()
				da := benchAuthorize(b, q, q.shell, "openid profile")
				t1 := time.Now()
				sc := ph.scan(b, da.VerificationURIComplete)
				if sc.Status != http.StatusOK {
					b.Fatalf("scan = %+v", sc)
				}
				t2 := time.Now()
				if c := ph.confirm(b, sc.ConfirmToken, true, ""); c.Decision != "approved" {
					b.Fatalf("confirm = %+v", c)
				}
				t3 := time.Now()
				if a := q.poll(b, q.shell, da.DeviceCode, 0); a.Status != http.StatusOK || a.AccessToken == "" || a.IDToken == "" {
					b.Fatalf("poll after approval = %+v", a)
				}
				t4 := time.Now()
				steps[0] += t1.Sub(t0)
				steps[1] += t2.Sub(t1)
				steps[2] += t3.Sub(t2)
				steps[3] += t4.Sub(t3)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
			for i, unit := range []string{"authorize-ms", "scan-ms", "confirm-ms", "token-ms"} {
				b.ReportMetric(ms(steps[i])/float64(b.N), unit)
			}
		})
	}
}

// BenchmarkPendingPoll measures standard (no wait) polls of pending sessions through
// the listener, on the memory store. The fake clock moves on by the interval (1 s)
// before every poll, so no poll is told slow_down; the sessions live ten years of
// that clock, so none expires.
//
// /memory is one client polling one session, request after request: the figure is
// the round-trip latency of a poll. /memory-16clients is 16 concurrent clients (8 per
// core, RunParallel), each polling its own session: the figure is throughput. The
// clients run on the same two cores as the server.
func BenchmarkPendingPoll(b *testing.B) {
	for _, st := range benchStores {
		store := st.open(b)
		q := benchQREnv(b, store, 10*365*24*time.Hour)
		// statements reports the database statements per poll (none: the hub knows
		// the session, the client cache the client).
		statements := func(b *testing.B, before storage.Counts) {
			if counted, ok := store.(storage.Counted); ok {
				b.ReportMetric(float64(counted.Counts().Sub(before).Statements)/float64(b.N), "db-statements/op")
			}
		}
		counts := func() storage.Counts {
			if counted, ok := store.(storage.Counted); ok {
				return counted.Counts()
			}
			return storage.Counts{}
		}
		b.Run(st.name, func(b *testing.B) {
			da := benchAuthorize(b, q, q.shell, "openid")
			q.poll(b, q.shell, da.DeviceCode, 0) // the node now knows the session
			before := counts()
			b.ReportAllocs()
			for b.Loop() {
				q.clock.Advance(time.Second)
				if a := q.poll(b, q.shell, da.DeviceCode, 0); a.Error != "authorization_pending" {
					b.Fatalf("poll of a pending session = %+v", a)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "polls/s")
			statements(b, before)
		})
		b.Run(st.name+"-16clients", func(b *testing.B) {
			b.SetParallelism(8)
			var failed atomic.Value
			before := counts()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				// Authorizing inside the timed part costs one request per client per
				// run, against thousands of polls.
				da, err := benchAuthorizeAsync(q, q.shell, "openid")
				if err != nil {
					failed.Store(err.Error())
					return
				}
				for pb.Next() {
					q.clock.Advance(time.Second)
					r := pollAsync(q, q.shell, da.DeviceCode, 0)
					if r.err == nil && r.answer.Error != "authorization_pending" {
						r.err = fmt.Errorf("poll of a pending session = %+v", r.answer)
					}
					if r.err != nil {
						failed.Store(r.err.Error())
						return
					}
				}
			})
			if msg := failed.Load(); msg != nil {
				b.Fatal(msg)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "polls/s")
			statements(b, before)
		})
	}
}

// benchAuthorizeAsync is benchAuthorize for a goroutine other than the benchmark's.
func benchAuthorizeAsync(q *qrEnv, c admin.ClientInfo, scope string) (deviceAuth, error) {
	form := url.Values{"scope": {scope}}
	req, _ := http.NewRequest(http.MethodPost, q.issuer+"/oauth2/device/auth", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
	resp, err := q.srv.Client().Do(req)
	if err != nil {
		return deviceAuth{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return deviceAuth{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return deviceAuth{}, fmt.Errorf("device authorization: %d %s", resp.StatusCode, body)
	}
	var a deviceAuth
	return a, json.Unmarshal(body, &a)
}

// BenchmarkConfirmToPC measures what qrid's long-poll is for: the time from the
// phone sending its confirm to the PC's held poll returning the tokens. Per
// iteration (untimed): a new session is authorized and scanned, and a wait=25 poll
// is started and observed held (HeldPolls); then (timed) the confirm is sent and the
// poll's answer awaited. /two-nodes holds the poll on node A and sends the confirm
// to node B; both nodes share one PostgreSQL database and one issuer, and node A
// learns of the approval through LISTEN/NOTIFY.
func BenchmarkConfirmToPC(b *testing.B) {
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			q := benchQREnv(b, st.open(b), 0)
			confirmToPC(b, q, q)
		})
	}
	b.Run("two-nodes", func(b *testing.B) {
		dbURL := postgres.NewTestDatabase(b)
		secret := randomSecret(b)
		c := newBenchClock()
		sa, sb := newBenchServer(b), newBenchServer(b)
		issuer := sa.srv.URL
		storeA, storeB := postgres.OpenTestStore(b, dbURL), postgres.OpenTestStore(b, dbURL)
		pa := benchNode(b, sa, storeA, issuer, secret, c, 0)
		pb := benchNode(b, sb, storeB, issuer, secret, c, 0)
		user, shell := benchSeed(b, pa)
		nodeA := &qrEnv{env: &env{srv: sa.srv, p: pa, store: storeA, issuer: sa.srv.URL, secret: secret, user: user}, clock: c, shell: shell}
		nodeB := &qrEnv{env: &env{srv: sb.srv, p: pb, store: storeB, issuer: sb.srv.URL, secret: secret, user: user}, clock: c, shell: shell}
		confirmToPC(b, nodeA, nodeB)
	})
}

// confirmToPC runs BenchmarkConfirmToPC with the PC on pc and the phone on ph.
func confirmToPC(b *testing.B, pc, phoneNode *qrEnv) {
	ph := phoneNode.newPhone(b, "alice", testPassword, "bench-phone")
	lat := make([]time.Duration, 0, 1024)
	answers := make(chan asyncPoll, 1)
	scans := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		benchScanBudget(b, pc.clock, &scans)
		da := benchAuthorize(b, pc, pc.shell, "openid profile")
		sc := ph.scan(b, da.VerificationURIComplete)
		if sc.Status != http.StatusOK {
			b.Fatalf("scan = %+v", sc)
		}
		if pc != phoneNode {
			benchSeeScan(b, pc, da.DeviceCode)
		}
		go func() { answers <- pollAsync(pc, pc.shell, da.DeviceCode, 25) }()
		benchWaitHeld(b, pc.p)
		b.StartTimer()

		t0 := time.Now()
		if c := ph.confirm(b, sc.ConfirmToken, true, ""); c.Decision != "approved" {
			b.Fatalf("confirm = %+v", c)
		}
		r := <-answers
		if r.err != nil {
			b.Fatal(r.err)
		}
		if r.answer.Status != http.StatusOK || r.answer.AccessToken == "" || r.answer.IDToken == "" {
			b.Fatalf("the held poll answered %+v", r.answer)
		}
		lat = append(lat, r.at.Sub(t0))
	}
	slices.Sort(lat)
	b.ReportMetric(ms(benchPercentile(lat, 50)), "p50-ms")
	b.ReportMetric(ms(benchPercentile(lat, 99)), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
}

// benchClockLag is how far behind real time the benchmarks' fake clock starts. The
// clock has to move forward (see benchScanBudget) but must never pass real time:
// qrid stamps auth_time with its clock and fosite refuses, with real time, an
// authentication time in the future.
const benchClockLag = 7 * 24 * time.Hour

// newBenchClock returns a fake clock benchClockLag behind real time.
func newBenchClock() *clock {
	c := newClock()
	c.Advance(-benchClockLag)
	return c
}

// benchScanBudget keeps one phone under the mobile API's scan limit (10 at once, one
// more every 6 s, per account) by moving the fake clock on by a minute before every
// tenth session. Called before the session is authorized, so no jump falls between
// a scan and its confirm (the confirm token lives 60 s). A side effect: each jump is
// longer than the signing-key cache period (30 s), so one login in ten re-reads the
// key snapshot from the store.
func benchScanBudget(b *testing.B, c *clock, scans *int) {
	if *scans%10 == 0 {
		c.Advance(time.Minute)
		if c.Now().After(time.Now().Add(-time.Minute)) {
			b.Fatal("the fake clock has caught up with real time: raise benchClockLag")
		}
	}
	*scans++
}

// benchSeeScan polls (without wait) on the PC's node until that node has learned of
// the scan made on the other node, so the long-poll that follows is woken by the
// approval and not by the scan's notification arriving late. The clock moves on by
// the interval around each poll, so neither these polls nor the long-poll are told
// slow_down.
func benchSeeScan(b *testing.B, pc *qrEnv, deviceCode string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		pc.clock.Advance(time.Second)
		a := pc.poll(b, pc.shell, deviceCode, 0)
		pc.clock.Advance(time.Second)
		if a.QRStatus == "scanned" {
			return
		}
		if a.Error != "authorization_pending" || time.Now().After(deadline) {
			b.Fatalf("waiting for the PC's node to see the scan: %+v", a)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// benchWaitHeld waits until p holds a long-poll.
func benchWaitHeld(b *testing.B, p *provider.Provider) {
	deadline := time.Now().Add(10 * time.Second)
	for p.HeldPolls() == 0 {
		if time.Now().After(deadline) {
			b.Fatal("the long-poll was never held")
		}
		time.Sleep(20 * time.Microsecond)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchPercentile returns the p-th percentile of sorted durations (nearest rank).
func benchPercentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := max((len(sorted)*p+99)/100, 1)
	return sorted[i-1]
}

// benchTokenRequest posts form to the token endpoint as client c, for a goroutine
// other than the benchmark's; it returns the answer or an error naming what was
// wrong with it.
func benchTokenRequest(q *qrEnv, c admin.ClientInfo, form url.Values) (pollAnswer, error) {
	req, _ := http.NewRequest(http.MethodPost, q.issuer+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
	resp, err := q.srv.Client().Do(req)
	if err != nil {
		return pollAnswer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return pollAnswer{}, err
	}
	a := pollAnswer{Status: resp.StatusCode}
	if err := json.Unmarshal(body, &a); err != nil || resp.StatusCode != http.StatusOK {
		return a, fmt.Errorf("token endpoint: %d %s", resp.StatusCode, body)
	}
	return a, nil
}

// runParallelRequests runs request from 16 concurrent clients (8 per core) until
// b.N are done, failing b with the first error, and reports requests/s as unit and,
// on PostgreSQL, the statements and transactions per request.
func runParallelRequests(b *testing.B, store storage.Storage, unit string, setup func() (func() error, error)) {
	b.Helper()
	counted, _ := store.(storage.Counted)
	var before storage.Counts
	if counted != nil {
		before = counted.Counts()
	}
	b.SetParallelism(8)
	var failed atomic.Value
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		request, err := setup()
		if err != nil {
			failed.Store(err.Error())
			return
		}
		for pb.Next() {
			if err := request(); err != nil {
				failed.Store(err.Error())
				return
			}
		}
	})
	if msg := failed.Load(); msg != nil {
		b.Fatal(msg)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
	if counted != nil {
		c := counted.Counts().Sub(before)
		b.ReportMetric(float64(c.Statements)/float64(b.N), "db-statements/op")
		b.ReportMetric(float64(c.Transactions)/float64(b.N), "db-transactions/op")
	}
}

// BenchmarkClientCredentials measures client_credentials grants (an opaque access
// token stored per grant) from 16 concurrent clients through the listener.
func BenchmarkClientCredentials(b *testing.B) {
	for _, st := range benchStores {
		b.Run(st.name+"-16clients", func(b *testing.B) {
			store := st.open(b)
			q := benchQREnv(b, store, 0)
			machine, err := q.p.Admin().CreateClient(context.Background(), admin.ClientMetadata{ClientName: "Batch job",
				GrantTypes: []string{admin.GrantClientCredentials}, Scope: "profile"})
			if err != nil {
				b.Fatal(err)
			}
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"profile"}}
			runParallelRequests(b, store, "grants/s", func() (func() error, error) {
				return func() error {
					a, err := benchTokenRequest(q, machine, form)
					if err == nil && a.AccessToken == "" {
						err = fmt.Errorf("no access token: %+v", a)
					}
					return err
				}, nil
			})
		})
	}
}

// BenchmarkRefresh measures refresh token grants that also issue a new ES256 ID
// token (scope openid offline_access): each of 16 concurrent clients signs in once
// by QR (untimed, before the timer) and then refreshes again and again with the
// rotated refresh token of its last answer.
func BenchmarkRefresh(b *testing.B) {
	for _, st := range benchStores {
		b.Run(st.name+"-16clients", func(b *testing.B) {
			store := st.open(b)
			q := benchQREnv(b, store, 0)
			ph := q.newPhone(b, "alice", testPassword, "bench-phone")
			tokens := make(chan string, 64)
			for range cap(tokens) {
				tokens <- q.qrLogin(b, ph, "openid offline_access").RefreshToken
			}
			runParallelRequests(b, store, "refreshes/s", func() (func() error, error) {
				refreshToken := <-tokens
				return func() error {
					a, err := benchTokenRequest(q, q.shell, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
					switch {
					case err != nil:
						return err
					case a.RefreshToken == "" || a.RefreshToken == refreshToken || a.IDToken == "":
						return fmt.Errorf("refresh answer without a new refresh token and ID token: %+v", a)
					}
					refreshToken = a.RefreshToken
					return nil
				}, nil
			})
		})
	}
}
