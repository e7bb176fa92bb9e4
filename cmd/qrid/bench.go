package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/qrid/qrid/loadtest"
)

// benchFlags are the flags every qrid bench mode shares.
type benchFlags struct {
	admin       adminFlags
	issuer      string
	metricsURL  string
	phoneAddr   string
	concurrency int
	duration    time.Duration
	count       int
	jsonPath    string
	progress    time.Duration
	keep        bool
	dpop        bool
}

func (a *app) newBenchCmd() *cobra.Command {
	var f benchFlags
	var sessions, holds int
	login := a.benchModeCmd(&f, loadtest.ModeLogin, "Whole QR sign-ins by virtual PCs and phones",
		"Each worker is a virtual PC and a virtual phone performing complete QR sign-ins:\n"+
			"device authorization, the PC's token long-poll (wait=25), the phone's scan, its\n"+
			"confirmation, the tokens answered to the held poll, and the ID token verified\n"+
			"(signature, issuer, audience, expiry, at_hash, subject). confirm_to_pc is the time\n"+
			"from just before the phone confirms until the PC's held poll answers.", nil)
	poll := a.benchModeCmd(&f, loadtest.ModePoll, "Polls of pending QR sessions, without waiting",
		"Starts --sessions QR sessions that nobody scans, then polls them (no wait) as fast\n"+
			"as the workers can; a poll answered authorization_pending is completed. The server\n"+
			"enforces the polling interval it announced (RFC 8628 §3.5) and answers a faster poll\n"+
			"slow_down, reported as the error poll:slow_down: to measure polls rather than that,\n"+
			"start the server with --qr-interval 1ms (the interval announced is then 0 s).\n"+
			"Sessions live --qr-ttl (5 minutes by default): a longer run meets expired_token.",
		func(cfg *loadtest.Config) { cfg.Sessions = sessions })
	poll.Flags().IntVar(&sessions, "sessions", loadtest.DefaultSessions, "pending QR sessions to poll")
	cc := a.benchModeCmd(&f, loadtest.ModeClientCredentials, "client_credentials grants",
		"Each worker asks the token endpoint for access tokens with the client_credentials\n"+
			"grant (RFC 6749 §4.4), authenticated with client_secret_basic.", nil)
	refresh := a.benchModeCmd(&f, loadtest.ModeRefresh, "Refresh-token rotations, each new ID token verified",
		"Each worker signs in once by QR with offline_access before the timer starts, then\n"+
			"refreshes over and over: every answer must carry a new refresh token (qrid rotates\n"+
			"them) and a new ID token, which is verified. After a failure the worker signs in\n"+
			"again.", nil)
	hold := a.benchModeCmd(&f, loadtest.ModeHold, "Many long-polls held at once, and what they cost the server",
		"Starts --polls QR sessions and opens a token long-poll (wait=25, the most qrid\n"+
			"allows) on each; waits until the server holds them all (its qrid_qr_held_polls\n"+
			"gauge), keeps them held for --duration, reporting the server's memory, then cancels\n"+
			"them and checks that the server let them go. A poll the server answers at the end of\n"+
			"its wait is sent again. --concurrency bounds the setup's parallel requests.",
		func(cfg *loadtest.Config) { cfg.Holds = holds })
	hold.Flags().IntVar(&holds, "polls", loadtest.DefaultHolds, "long-polls to hold")

	cmd := groupCmd("bench", "Load-test a running qrid: QR sign-ins, polls, client credentials, refreshes, held long-polls",
		login, poll, cc, refresh, hold)
	cmd.Long = "qrid bench loads a running qrid through its public HTTP APIs only, as many PCs,\n" +
		"phones and relying parties at once, and reports the throughput, the p50/p95/p99/max\n" +
		"of every step, the errors by kind (step:code, such as token:invalid_grant or\n" +
		"scan:rate_limited, or transport:timeout) and the server's memory from its /metrics.\n" +
		"It prints a progress line on standard error while it runs and a table at the end;\n" +
		"--json FILE also writes the report as JSON.\n\n" +
		"It sets itself up through the admin API (--admin-endpoint, QRID_ADMIN_TOKEN): a\n" +
		"first-party client, and one user per virtual phone with a random password that is\n" +
		"never shown; each phone signs in once before the timer starts. All of it is deleted\n" +
		"at the end unless --keep.\n\n" +
		"The server must run with its rate limits off, or it refuses a load test from one\n" +
		"address within seconds (the tool says so when it meets HTTP 429):\n" +
		"  qrid serve --dev --rate-limits=false      (or QRID_RATE_LIMITS=false)\n" +
		"Poll mode also wants --qr-interval 1ms on the server (see qrid bench poll --help)."
	cmd.Example = "  qrid serve --dev --rate-limits=false --addr 127.0.0.1:8080 --issuer http://127.0.0.1:8080\n" +
		"  export QRID_ADMIN_TOKEN=...   # printed by qrid serve --dev\n" +
		"  qrid bench login --issuer http://127.0.0.1:8080 -c 20 -d 30s\n" +
		"  qrid bench hold --issuer http://127.0.0.1:8080 --polls 5000 -d 20s --json hold.json"

	pf := cmd.PersistentFlags()
	pf.StringVar(&f.issuer, "issuer", "http://localhost:8080", "issuer URL of the qrid to load")
	pf.StringVar(&f.admin.endpoint, "admin-endpoint", defaultEndpoint, "URL of qrid's admin listener, for setup and cleanup (when not given: $QRID_ENDPOINT if set)")
	pf.StringVar(&f.admin.token, "admin-token", "", "admin API token (better given as QRID_ADMIN_TOKEN)")
	pf.IntVarP(&f.concurrency, "concurrency", "c", 10, "workers: virtual PC and phone pairs (login), pollers (poll), relying parties (cc, refresh)")
	pf.DurationVarP(&f.duration, "duration", "d", 0, "how long to run, or to hold in hold mode (default 10s unless --count is given)")
	pf.IntVarP(&f.count, "count", "n", 0, "iterations of all workers together (sign-ins, polls, grants, refreshes); with --duration, whichever ends first")
	pf.StringVar(&f.jsonPath, "json", "", "also write the report as JSON to this file (-: to standard output, instead of the table)")
	pf.DurationVar(&f.progress, "progress", time.Second, "print a progress line on standard error this often (0: never)")
	pf.StringVar(&f.metricsURL, "metrics-url", "", "URL of the server's Prometheus metrics (default: the issuer's /metrics)")
	pf.StringVar(&f.phoneAddr, "phone-addr", "", "host:port of a second node of the same deployment: the phones talk to it, the PCs to the issuer's node, so every approval crosses nodes")
	pf.BoolVar(&f.keep, "keep", false, "keep the client and users the run created")
	pf.BoolVar(&f.dpop, "dpop", true, "bind the phones' device tokens to a key with DPoP (RFC 9449), as the mobile app does")
	// --endpoint, as the other admin commands call it; the environment's
	// QRID_ENDPOINT is read by the mode commands when neither flag is given.
	pf.StringVar(&f.admin.endpoint, "endpoint", defaultEndpoint, "same as --admin-endpoint")
	if err := pf.MarkHidden("endpoint"); err != nil {
		panic(err) // a programming error: the flag is not defined
	}
	noEnv(pf, "json", "keep", "endpoint")
	return cmd
}

// benchModeCmd is the subcommand of one mode; configure, when set, fills in the
// mode's own flags.
func (a *app) benchModeCmd(f *benchFlags, mode loadtest.Mode, short, long string, configure func(*loadtest.Config)) *cobra.Command {
	return &cobra.Command{
		Use:   string(mode),
		Short: short,
		Long:  long + "\n\nThe server must run with --rate-limits=false; see qrid bench --help.",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("admin-endpoint") && !cmd.Flags().Changed("endpoint") {
				// The endpoint qrid serve --dev tells the admin commands to use.
				if v, ok := a.lookupEnv("QRID_ENDPOINT"); ok && v != "" {
					f.admin.endpoint = v
				}
			}
			cfg, err := f.config(mode)
			if err != nil {
				return err
			}
			if configure != nil {
				configure(&cfg)
			}
			if err := checkModeFlags(mode, cfg, f); err != nil {
				return err
			}
			admin, err := f.admin.client()
			if err != nil {
				return err
			}
			cfg.Admin = admin.do
			cfg.Progress = a.stderr
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return a.bench(ctx, cfg, f.jsonPath, admin.endpoint)
		},
	}
}

// config checks the shared flags and turns them into a configuration.
func (f *benchFlags) config(mode loadtest.Mode) (loadtest.Config, error) {
	var problems []string
	if err := checkIssuer(f.issuer); err != nil {
		problems = append(problems, err.Error())
	} else if strings.HasSuffix(f.issuer, "/") {
		problems = append(problems, fmt.Sprintf("--issuer %q must be the exact issuer URL, without a trailing slash", f.issuer))
	}
	if err := checkHTTPFlag("--admin-endpoint", f.admin.endpoint); err != nil {
		problems = append(problems, err.Error())
	}
	if f.metricsURL != "" {
		if err := checkHTTPFlag("--metrics-url", f.metricsURL); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if f.concurrency < 1 {
		problems = append(problems, fmt.Sprintf("--concurrency must be at least 1, not %d", f.concurrency))
	}
	if f.duration < 0 {
		problems = append(problems, "--duration must not be negative")
	}
	if f.count < 0 {
		problems = append(problems, "--count must not be negative")
	}
	if f.progress < 0 {
		problems = append(problems, "--progress must not be negative (0 prints no progress)")
	}
	if len(problems) > 0 {
		return loadtest.Config{}, usageError{errors.New(strings.Join(problems, "; "))}
	}
	cfg := loadtest.Config{
		Mode:          mode,
		Issuer:        f.issuer,
		MetricsURL:    f.metricsURL,
		PhoneAddr:     f.phoneAddr,
		Concurrency:   f.concurrency,
		Duration:      f.duration,
		Count:         f.count,
		BearerTokens:  !f.dpop,
		Keep:          f.keep,
		ProgressEvery: f.progress,
	}
	return cfg, nil
}

// checkModeFlags checks the flags of one mode.
func checkModeFlags(mode loadtest.Mode, cfg loadtest.Config, f *benchFlags) error {
	switch {
	case mode == loadtest.ModePoll && cfg.Sessions < 1:
		return usageError{fmt.Errorf("--sessions must be at least 1, not %d", cfg.Sessions)}
	case mode == loadtest.ModeHold && cfg.Holds < 1:
		return usageError{fmt.Errorf("--polls must be at least 1, not %d", cfg.Holds)}
	case mode == loadtest.ModeHold && f.count > 0:
		return usageError{errors.New("hold mode takes --polls (how many to hold) and --duration (how long), not --count")}
	}
	return nil
}

// checkHTTPFlag checks that a flag holds an http(s) URL.
func checkHTTPFlag(flag, value string) error {
	if err := checkIssuer(value); err != nil {
		return fmt.Errorf("%s %q must be an http(s) URL", flag, value)
	}
	return nil
}

// bench runs the load test and prints its report.
func (a *app) bench(ctx context.Context, cfg loadtest.Config, jsonPath, adminEndpoint string) error {
	report, err := loadtest.Run(ctx, cfg)
	if report == nil {
		var apiErr *apiError
		switch {
		case err == context.Canceled:
			return errors.New("interrupted")
		case errors.Is(err, context.Canceled):
			return fmt.Errorf("interrupted: %w", err)
		case errors.As(err, &apiErr) && apiErr.Status == http.StatusUnauthorized:
			return fmt.Errorf("the admin API at %s refused the admin token (HTTP 401): check QRID_ADMIN_TOKEN (or --admin-token)", adminEndpoint)
		}
		return err
	}
	var js bytes.Buffer
	if jsonPath != "" {
		if werr := report.WriteJSON(&js); werr != nil {
			return werr
		}
	}
	if jsonPath == "-" {
		if _, werr := a.stdout.Write(js.Bytes()); werr != nil {
			return werr
		}
	} else {
		if werr := report.WriteTable(a.stdout); werr != nil {
			return werr
		}
		if jsonPath != "" {
			if werr := os.WriteFile(jsonPath, js.Bytes(), 0o644); werr != nil {
				return fmt.Errorf("writing the JSON report: %w", werr)
			}
		}
	}
	if err != nil {
		return err // the report is complete, but cleaning up failed
	}
	if report.Completed == 0 {
		return errors.New("nothing completed: see the errors in the report")
	}
	return nil
}
