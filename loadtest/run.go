package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// run is one run of the load test.
type run struct {
	cfg   Config
	runID string
	wire  *wire
	// phoneWire carries the phones' requests: wire, or one to Config.PhoneAddr.
	phoneWire *wire
	provider  *oidc.Provider
	rp        *relyingParty
	server    *serverWatch
	fixture   fixture

	// outMu serializes the progress lines and hints; hintOnce says the rate
	// limit hint once.
	outMu    sync.Mutex
	hintOnce sync.Once

	// seq numbers the iterations; deadline (zero: none) ends the run.
	seq      atomic.Int64
	deadline time.Time
}

// worker is what one worker keeps between iterations.
type worker struct {
	rec *recorder
	// pcBuf holds the answers to the PC's (or relying party's) requests.
	pcBuf bytes.Buffer
	// phone is the worker's phone in login and refresh modes.
	phone *phone
	// refreshToken is the worker's current refresh token in refresh mode; "" when
	// it must sign in again.
	refreshToken string
}

// Run sets up, measures and cleans up. It returns the report of the measurement,
// and an error when the run could not be set up or measured (then the report is
// nil) or could not clean up after itself (then the report is complete).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	idle := 2*cfg.Concurrency + 16
	if cfg.Mode == ModeHold {
		idle += cfg.Holds
	}
	r := &run{cfg: cfg, runID: newRunID(), wire: newWire(idle)}
	defer r.wire.close()
	r.phoneWire = r.wire
	if cfg.PhoneAddr != "" {
		r.phoneWire = newWireTo(2*cfg.Concurrency+16, cfg.PhoneAddr)
		defer r.phoneWire.close()
	}
	r.server = &serverWatch{reader: &metricsReader{wire: r.wire, url: cfg.MetricsURL}}
	if err := r.discover(ctx); err != nil {
		return nil, err
	}
	report, err := r.setUpAndMeasure(ctx)
	if cerr := r.cleanup(ctx); cerr != nil {
		if report == nil {
			return nil, errors.Join(err, cerr)
		}
		return report, cerr
	}
	return report, err
}

// setUpAndMeasure runs the mode.
func (r *run) setUpAndMeasure(ctx context.Context) (*Report, error) {
	if err := r.registerClient(ctx); err != nil {
		return nil, err
	}
	switch r.cfg.Mode {
	case ModeLogin:
		workers, err := r.phoneWorkers(ctx)
		if err != nil {
			return nil, err
		}
		return r.measure(ctx, workers, r.loginIteration)
	case ModeRefresh:
		workers, err := r.phoneWorkers(ctx)
		if err != nil {
			return nil, err
		}
		err = r.parallel(ctx, len(workers), min(r.cfg.Concurrency, 32), "refresh tokens obtained", func(ctx context.Context, i int) error {
			if f := r.signInForRefresh(ctx, workers[i]); f != nil {
				if f.limited {
					return fmt.Errorf("signing in with offline_access: %v (%s)", f, rateLimitHint)
				}
				return fmt.Errorf("signing in with offline_access: %v", f)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		return r.measure(ctx, workers, r.refreshIteration)
	case ModeClientCredentials:
		return r.measure(ctx, r.plainWorkers(), r.clientCredentialsIteration)
	case ModePoll:
		sessions, err := r.openSessions(ctx, r.cfg.Sessions)
		if err != nil {
			return nil, err
		}
		forms := make([]string, len(sessions))
		for i, s := range sessions {
			forms[i] = pollForm(s.DeviceCode, 0)
		}
		return r.measure(ctx, r.plainWorkers(), func(ctx context.Context, w *worker, i int64) *failure {
			return r.pollIteration(ctx, w, forms[i%int64(len(forms))])
		})
	case ModeHold:
		sessions, err := r.openSessions(ctx, r.cfg.Holds)
		if err != nil {
			return nil, err
		}
		return r.hold(ctx, sessions)
	}
	return nil, fmt.Errorf("unknown mode %q", r.cfg.Mode)
}

// plainWorkers are workers without phones.
func (r *run) plainWorkers() []*worker {
	workers := make([]*worker, r.cfg.Concurrency)
	for i := range workers {
		workers[i] = &worker{rec: newRecorder()}
	}
	return workers
}

// phoneWorkers are workers with a signed-in phone each.
func (r *run) phoneWorkers(ctx context.Context) ([]*worker, error) {
	phones := make([]*phone, r.cfg.Concurrency)
	if err := r.setUpPhones(ctx, phones); err != nil {
		return nil, err
	}
	workers := r.plainWorkers()
	for i, w := range workers {
		w.phone = phones[i]
	}
	return workers, nil
}

// iteration runs iteration i on a worker: nil when it succeeded. It records the
// timings of its steps in w.rec.
type iteration func(ctx context.Context, w *worker, i int64) *failure

// next claims the next iteration; false when the run is over.
func (r *run) next(ctx context.Context) (int64, bool) {
	if ctx.Err() != nil || (!r.deadline.IsZero() && !time.Now().Before(r.deadline)) {
		return 0, false
	}
	i := r.seq.Add(1) - 1
	if r.cfg.Count > 0 && i >= int64(r.cfg.Count) {
		return 0, false
	}
	return i, true
}

// measure runs the workers until the count or the duration is reached.
func (r *run) measure(ctx context.Context, workers []*worker, iterate iteration) (*Report, error) {
	r.sampleStart(ctx)
	start := time.Now()
	if r.cfg.Duration > 0 {
		r.deadline = start.Add(r.cfg.Duration)
	}
	recs := make([]*recorder, len(workers))
	for i, w := range workers {
		recs[i] = w.rec
	}
	stopWatching := r.watch(ctx, r.progress(start, recs))
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			for {
				i, ok := r.next(ctx)
				if !ok {
					return
				}
				f := iterate(ctx, w, i)
				switch {
				case f == nil:
					w.rec.done()
				case ctx.Err() != nil:
					// Interrupted: not the server's failure.
				default:
					w.rec.fail(f.kind)
					if f.limited {
						r.hint()
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopWatching()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := merge(recs, modeSteps[r.cfg.Mode])
	report := r.newReport(start, elapsed)
	report.Completed, report.Failed = m.completed, m.failed
	report.PerSecond = float64(m.completed) / elapsed.Seconds()
	report.Steps, report.Errors = m.steps, m.errors
	r.sampleEnd(ctx, report)
	return report, nil
}

// newReport starts a report.
func (r *run) newReport(start time.Time, elapsed time.Duration) *Report {
	return &Report{
		Mode:           string(r.cfg.Mode),
		Issuer:         r.cfg.Issuer,
		Concurrency:    r.cfg.Concurrency,
		StartedAt:      start.UTC(),
		ElapsedSeconds: elapsed.Seconds(),
		Steps:          []StepStats{},
		Errors:         []ErrorCount{},
	}
}

// sampleStart reads the server's metrics before the timer starts; a server whose
// metrics cannot be read is measured without them.
func (r *run) sampleStart(ctx context.Context) {
	if _, err := r.server.sample(ctx); err != nil {
		r.printf("warning: %v; the report will have no server figures\n", err)
	}
}

// sampleEnd reads the server's metrics once more and adds them to the report.
func (r *run) sampleEnd(ctx context.Context, report *Report) {
	if report.Server = r.server.stats(); report.Server == nil {
		return
	}
	if _, err := r.server.sample(ctx); err != nil {
		r.printf("warning: %v\n", err)
	}
	report.Server = r.server.stats()
}

// watch samples the server's metrics every ProgressEvery (every second when no
// progress is printed, for the peaks) and calls tick with each sample, until the
// returned function is called.
func (r *run) watch(ctx context.Context, tick func(now time.Time, server ServerSample, ok bool)) (stop func()) {
	every := r.cfg.ProgressEvery
	if every <= 0 {
		every = time.Second
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case now := <-t.C:
				sample, err := r.server.sample(ctx)
				tick(now, sample, err == nil)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// progress returns the tick of measure: it prints elapsed time, iterations
// completed, the rate over the last interval, errors, and the server's memory.
func (r *run) progress(start time.Time, recs []*recorder) func(time.Time, ServerSample, bool) {
	var lastCompleted int64
	last := start
	return func(now time.Time, server ServerSample, ok bool) {
		var completed, failed int64
		for _, rec := range recs {
			completed += rec.completed.Load()
			failed += rec.failed.Load()
		}
		rate := float64(completed-lastCompleted) / now.Sub(last).Seconds()
		lastCompleted, last = completed, now
		if r.cfg.ProgressEvery > 0 {
			r.printf("%s\n", progressLine(now.Sub(start), completed, failed, rate, server, ok))
		}
	}
}

// progressLine is one line of progress.
func progressLine(elapsed time.Duration, completed, failed int64, rate float64, server ServerSample, haveServer bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%7.1fs  %9d done  %9.1f/s  %6d errors", elapsed.Seconds(), completed, rate, failed)
	if haveServer {
		fmt.Fprintf(&b, "  server rss %s heap %s", formatBytes(server.ResidentBytes), formatBytes(server.HeapInuseBytes))
	}
	return b.String()
}

// printf writes to the progress output, if any.
func (r *run) printf(format string, args ...any) {
	if r.cfg.Progress == nil {
		return
	}
	r.outMu.Lock()
	defer r.outMu.Unlock()
	fmt.Fprintf(r.cfg.Progress, format, args...)
}

// hint says once that the server limits rates.
func (r *run) hint() {
	r.hintOnce.Do(func() { r.printf("hint: %s\n", rateLimitHint) })
}
