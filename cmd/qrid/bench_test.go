package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/qrid/qrid/loadtest"
)

// runBench runs qrid bench against s and returns its result and JSON report
// (nil when it wrote none).
func runBench(t *testing.T, s devServer, args ...string) (result, *loadtest.Report) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.json")
	args = append([]string{"bench"}, args...)
	args = append(args, "--issuer", s.issuer, "--json", path)
	r := runQrid(t, s.adminEnv, "", args...)
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return r, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var report loadtest.Report
	if err := json.Unmarshal(data, &report); err != nil {
		t.Fatalf("the JSON report does not parse: %v\n%s", err, data)
	}
	return r, &report
}

// checkSteps checks that the report times exactly the steps named, each count
// times, with ordered percentiles.
func checkSteps(t *testing.T, report *loadtest.Report, count int64, names ...string) {
	t.Helper()
	var got []string
	for _, s := range report.Steps {
		got = append(got, s.Name)
		if s.Count != count {
			t.Errorf("step %s timed %d times, want %d", s.Name, s.Count, count)
		}
		if !(0 < s.P50 && s.P50 <= s.P95 && s.P95 <= s.P99 && s.P99 <= s.Max) {
			t.Errorf("step %s: p50 %v, p95 %v, p99 %v, max %v: want 0 < p50 <= p95 <= p99 <= max", s.Name, s.P50, s.P95, s.P99, s.Max)
		}
	}
	if !slices.Equal(got, names) {
		t.Errorf("steps %v, want %v", got, names)
	}
}

// checkCleanedUp checks that no bench client or user is left on the server.
func checkCleanedUp(t *testing.T, s devServer) {
	t.Helper()
	for _, what := range []string{"clients", "users"} {
		r := runQrid(t, s.adminEnv, "", what, "list")
		if r.code != 0 {
			t.Fatalf("%s list: exit %d\n%s", what, r.code, r.stderr)
		}
		if strings.Contains(r.stdout, "qrid-bench-") {
			t.Errorf("the bench left %s behind:\n%s", what, r.stdout)
		}
	}
}

func TestBench(t *testing.T) {
	t.Parallel()
	s := startDevServer(t, "--rate-limits=false")

	t.Run("login", func(t *testing.T) {
		r, report := runBench(t, s, "login", "-c", "2", "-n", "10", "--progress", "0")
		if r.code != 0 || report == nil {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "qrid bench login: 10 completed, 0 failed in ") || !strings.Contains(r.stdout, "No errors.") {
			t.Errorf("the table does not report 10 sign-ins without errors:\n%s", r.stdout)
		}
		if report.Mode != "login" || report.Completed != 10 || report.Failed != 0 || len(report.Errors) != 0 || report.PerSecond <= 0 {
			t.Errorf("report: mode %s, %d completed, %d failed, errors %v, %v/s", report.Mode, report.Completed, report.Failed, report.Errors, report.PerSecond)
		}
		// Every sign-in went through every step, its ID token verified.
		checkSteps(t, report, 10, "device_auth", "scan", "confirm", "confirm_to_pc", "verify", "login")
		for _, step := range []string{"device_auth", "scan", "confirm", "confirm_to_pc", "verify", "login"} {
			if !regexp.MustCompile(`(?m)^` + step + ` +10 +\S+ +\S+ +\S+ +\S+ +\S+$`).MatchString(r.stdout) {
				t.Errorf("the table has no row of 10 %s timings:\n%s", step, r.stdout)
			}
		}
		if report.Server == nil || report.Server.Peak.ResidentBytes <= 0 || report.Server.Peak.HeapInuseBytes <= 0 {
			t.Errorf("no server memory in the report: %+v", report.Server)
		}
		checkCleanedUp(t, s)
	})

	t.Run("refresh", func(t *testing.T) {
		r, report := runBench(t, s, "refresh", "-c", "1", "-n", "5", "--progress", "0")
		if r.code != 0 || report == nil {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if report.Completed != 5 || report.Failed != 0 {
			t.Errorf("%d completed, %d failed (%v); want 5 and 0", report.Completed, report.Failed, report.Errors)
		}
		checkSteps(t, report, 5, "refresh", "verify")
	})

	t.Run("cc with progress", func(t *testing.T) {
		r, report := runBench(t, s, "cc", "-c", "2", "-d", "1s", "--progress", "100ms")
		if r.code != 0 || report == nil {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if report.Completed < 1 || report.Failed != 0 || report.ElapsedSeconds < 1 {
			t.Errorf("%d completed, %d failed in %vs; want some, none, at least 1s", report.Completed, report.Failed, report.ElapsedSeconds)
		}
		checkSteps(t, report, report.Completed, "client_credentials")
		progress := regexp.MustCompile(`(?m)^ +\d+\.\ds +\d+ done +\d+\.\d/s +0 errors  server rss \S+ \S+ heap `)
		if !progress.MatchString(r.stderr) {
			t.Errorf("no progress line on stderr:\n%s", r.stderr)
		}
	})

	t.Run("poll meets the interval", func(t *testing.T) {
		// The server announces 5 s: each of the 4 sessions answers its first poll
		// authorization_pending and the two more within 5 s slow_down.
		r, report := runBench(t, s, "poll", "-c", "2", "-n", "12", "--sessions", "4", "--progress", "0")
		if r.code != 0 || report == nil {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if report.Completed != 4 || report.Failed != 8 || !slices.Equal(report.Errors, []loadtest.ErrorCount{{Kind: "poll:slow_down", Count: 8}}) {
			t.Errorf("%d completed, %d failed, errors %v; want 4 pending answers and 8 poll:slow_down", report.Completed, report.Failed, report.Errors)
		}
		if !strings.Contains(r.stdout, "poll:slow_down  8") {
			t.Errorf("the table does not count the slow_down answers:\n%s", r.stdout)
		}
	})

	t.Run("hold", func(t *testing.T) {
		r, report := runBench(t, s, "hold", "--polls", "20", "-d", "200ms", "--progress", "0")
		if r.code != 0 || report == nil || report.Hold == nil {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		h := report.Hold
		if h.Requested != 20 || h.Held != 20 || h.RampSeconds <= 0 || h.HeldAfterRelease != 0 || report.Failed != 0 {
			t.Errorf("hold %+v, %d failed (%v); want 20 held, then none", *h, report.Failed, report.Errors)
		}
		if !strings.Contains(r.stdout, "qrid bench hold: 20 long-polls held of 20 in ") {
			t.Errorf("the table does not report 20 held:\n%s", r.stdout)
		}
		// The server's live memory is read after collections the run asks for
		// through the admin listener; 20 polls are too few to weigh reliably.
		if h.LiveBeforeBytes <= 0 || h.LiveHeldBytes <= 0 || !strings.Contains(r.stdout, "live memory, all held") {
			t.Errorf("hold %+v: want the live memory before and while held\n%s", *h, r.stdout)
		}
		if report.Server == nil || report.Server.Peak.HeldPolls < 20 {
			t.Errorf("server stats %+v, want a peak of 20 held polls or more", report.Server)
		}
		checkCleanedUp(t, s)
	})

	t.Run("JSON on standard output", func(t *testing.T) {
		r := runQrid(t, s.adminEnv, "", "bench", "cc", "-n", "3", "--progress", "0", "--issuer", s.issuer, "--json", "-")
		var report loadtest.Report
		if err := json.Unmarshal([]byte(r.stdout), &report); r.code != 0 || err != nil {
			t.Fatalf("exit %d, stdout is not the JSON report (%v):\n%s\nstderr:\n%s", r.code, err, r.stdout, r.stderr)
		}
		if report.Mode != "cc" || report.Completed != 3 {
			t.Errorf("report: mode %s, %d completed; want cc, 3", report.Mode, report.Completed)
		}
	})

	t.Run("wrong admin token", func(t *testing.T) {
		env := map[string]string{"QRID_ENDPOINT": s.adminEnv["QRID_ENDPOINT"], "QRID_ADMIN_TOKEN": "wrong"}
		r := runQrid(t, env, "", "bench", "cc", "-n", "1", "--issuer", s.issuer)
		if r.code != 1 || !strings.Contains(r.stderr, "refused the admin token (HTTP 401): check QRID_ADMIN_TOKEN") {
			t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
		}
	})
}

func TestBenchRateLimitedServer(t *testing.T) {
	t.Parallel()
	s := startDevServer(t) // rate limits on: 60 device authorizations at once per address
	r, report := runBench(t, s, "poll", "--sessions", "70", "-n", "1", "--progress", "0")
	if r.code != 1 || report != nil {
		t.Fatalf("exit %d, report %v; want a failure without a report\nstdout:\n%s", r.code, report, r.stdout)
	}
	if !strings.Contains(r.stderr, "HTTP 429") || !strings.Contains(r.stderr, "qrid serve --rate-limits=false") {
		t.Errorf("no rate limit hint:\n%s", r.stderr)
	}
	checkCleanedUp(t, s)
}

func TestBenchUnreachableServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	ln.Close()
	r := runQrid(t, map[string]string{"QRID_ADMIN_TOKEN": "t"}, "", "bench", "login", "-n", "1", "--issuer", issuer)
	want := "qrid: cannot reach qrid at " + issuer + ": connection refused (is qrid serve running"
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant %q", r.code, r.stderr, want)
	}
}

func TestBenchBadFlags(t *testing.T) {
	t.Parallel()
	env := map[string]string{"QRID_ADMIN_TOKEN": "t"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"fail/no mode", env, []string{"bench"}, "qrid bench needs a subcommand: cc, hold, login, poll, refresh"},
		{"fail/unknown mode", env, []string{"bench", "storm"}, `unknown command "storm" for "qrid bench"`},
		{"fail/concurrency", env, []string{"bench", "login", "-c", "0"}, "--concurrency must be at least 1, not 0"},
		{"fail/every problem at once", env, []string{"bench", "cc", "-d", "-1s", "-n", "-2", "--issuer", "ftp://x"},
			`--issuer "ftp://x" must be an http(s) URL such as https://id.example.com; --duration must not be negative; --count must not be negative`},
		{"fail/issuer with a slash", env, []string{"bench", "cc", "--issuer", "http://127.0.0.1:1/"}, "without a trailing slash"},
		{"fail/admin endpoint", env, []string{"bench", "cc", "--admin-endpoint", "127.0.0.1:8081"}, `--admin-endpoint "127.0.0.1:8081" must be an http(s) URL`},
		{"fail/not a duration", env, []string{"bench", "cc", "-d", "soon"}, `invalid argument "soon" for "-d, --duration"`},
		{"fail/hold takes no count", env, []string{"bench", "hold", "-n", "5"}, "hold mode takes --polls (how many to hold) and --duration (how long), not --count"},
		{"fail/no sessions", env, []string{"bench", "poll", "--sessions", "0"}, "--sessions must be at least 1, not 0"},
		{"fail/no admin token", nil, []string{"bench", "login"}, "no admin token: set QRID_ADMIN_TOKEN (or --admin-token)"},
		{"fail/bad environment", map[string]string{"QRID_ADMIN_TOKEN": "t", "QRID_CONCURRENCY": "many"}, []string{"bench", "login"}, `invalid QRID_CONCURRENCY="many"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runQrid(t, tc.env, "", tc.args...)
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant %q", r.code, r.stderr, tc.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout:\n%s\nwant nothing", r.stdout)
			}
		})
	}
}

func TestBenchHelpSaysHowToStartTheServer(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"bench", "--help"}, {"bench", "login", "--help"}} {
		r := runQrid(t, nil, "", args...)
		if r.code != 0 || !strings.Contains(r.stdout, "--rate-limits=false") {
			t.Errorf("%v: exit %d, stdout:\n%s", args, r.code, r.stdout)
		}
	}
	r := runQrid(t, nil, "", "bench", "poll", "--help")
	if !strings.Contains(r.stdout, "--qr-interval 1ms") {
		t.Errorf("bench poll --help does not say how to start the server:\n%s", r.stdout)
	}
}
