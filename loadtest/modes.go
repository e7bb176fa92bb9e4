package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// loginScopeForm is the device authorization form of login mode.
const loginScopeForm = "scope=openid+profile+email"

// refreshScopeForm is the device authorization form of refresh mode's sign-ins.
const refreshScopeForm = "scope=openid+offline_access"

// loginIteration is one whole QR sign-in.
func (r *run) loginIteration(ctx context.Context, w *worker, _ int64) *failure {
	_, f := r.login(ctx, w, loginScopeForm, w.rec)
	return f
}

// polled is what the PC's long-poll brought, and when.
type polled struct {
	tok tokenAnswer
	f   *failure
	at  time.Time
}

// login performs a QR sign-in with the worker's PC and phone and returns the
// verified tokens. rec, when not nil, gets the timings of the steps.
func (r *run) login(ctx context.Context, w *worker, form string, rec *recorder) (tokenAnswer, *failure) {
	start := time.Now()
	da, f := r.rp.deviceAuth(ctx, form, &w.pcBuf)
	if f != nil {
		return tokenAnswer{}, f
	}
	authorized := time.Now()
	rec.observe(stepDeviceAuth, authorized.Sub(start))

	// The PC shows the QR code and waits on the token endpoint while the phone
	// scans and confirms.
	pollCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	answered := make(chan polled, 1)
	go func() {
		tok, f := r.rp.waitForTokens(pollCtx, da, &w.pcBuf)
		answered <- polled{tok: tok, f: f, at: time.Now()}
	}()
	abandon := func(f *failure) (tokenAnswer, *failure) {
		cancel()
		<-answered
		return tokenAnswer{}, f
	}

	scan, f := w.phone.scan(ctx, da.VerificationURIComplete)
	if f != nil {
		return abandon(f)
	}
	scanned := time.Now()
	rec.observe(stepScan, scanned.Sub(authorized))
	match := ""
	if len(scan.MatchChoices) > 0 {
		// Number matching, which a first-party client does not get: the person
		// picks the number the PC shows.
		if da.MatchCode == "" {
			return abandon(stepFailure(stepScan, "no_match_code", "the scan offers numbers but the device authorization showed none"))
		}
		match = da.MatchCode
	}

	confirmSent := time.Now()
	if f := w.phone.confirm(ctx, scan.ConfirmToken, match); f != nil {
		return abandon(f)
	}
	rec.observe(stepConfirm, time.Since(confirmSent))
	p := <-answered
	if p.f != nil {
		return tokenAnswer{}, p.f
	}
	rec.observe(stepConfirmToPC, p.at.Sub(confirmSent))

	verifyStart := time.Now()
	if f := r.rp.verify(ctx, p.tok, w.phone.accountID); f != nil {
		return tokenAnswer{}, f
	}
	end := time.Now()
	rec.observe(stepVerify, end.Sub(verifyStart))
	rec.observe(stepLogin, end.Sub(start))
	return p.tok, nil
}

// signInForRefresh signs the worker in with offline_access, for a refresh token.
func (r *run) signInForRefresh(ctx context.Context, w *worker) *failure {
	tok, f := r.login(ctx, w, refreshScopeForm, nil)
	if f != nil {
		return f
	}
	if tok.RefreshToken == "" {
		return stepFailure(stepToken, "no_refresh_token", "the sign-in with offline_access brought no refresh token")
	}
	w.refreshToken = tok.RefreshToken
	return nil
}

// refreshIteration rotates the worker's refresh token once and verifies the new
// ID token. After a failure the worker signs in again, since its token chain may
// be broken.
func (r *run) refreshIteration(ctx context.Context, w *worker, _ int64) *failure {
	if w.refreshToken == "" {
		if f := r.signInForRefresh(ctx, w); f != nil {
			return f
		}
	}
	start := time.Now()
	tok, f := r.rp.token(ctx, stepRefresh, refreshForm(w.refreshToken), &w.pcBuf)
	old := w.refreshToken
	w.refreshToken = ""
	if f != nil {
		return f
	}
	refreshed := time.Now()
	switch {
	case tok.RefreshToken == "":
		return stepFailure(stepRefresh, "no_refresh_token", "the refresh answer holds no new refresh token")
	case tok.RefreshToken == old:
		return stepFailure(stepRefresh, "not_rotated", "the refresh answer holds the same refresh token")
	}
	w.rec.observe(stepRefresh, refreshed.Sub(start))
	if f := r.rp.verify(ctx, tok, w.phone.accountID); f != nil {
		return f
	}
	w.refreshToken = tok.RefreshToken
	w.rec.observe(stepVerify, time.Since(refreshed))
	return nil
}

// clientCredentialsIteration gets one access token with the client_credentials
// grant.
func (r *run) clientCredentialsIteration(ctx context.Context, w *worker, _ int64) *failure {
	start := time.Now()
	if _, f := r.rp.token(ctx, stepClientCredentials, clientCredentialsForm, &w.pcBuf); f != nil {
		return f
	}
	w.rec.observe(stepClientCredentials, time.Since(start))
	return nil
}

// pollIteration polls a pending session once, without waiting.
func (r *run) pollIteration(ctx context.Context, w *worker, form string) *failure {
	start := time.Now()
	if f := r.rp.pollOnce(ctx, form, &w.pcBuf); f != nil {
		return f
	}
	w.rec.observe(stepPoll, time.Since(start))
	return nil
}

// errorTally counts errors from many goroutines; hold mode's are rare and its
// goroutines many, so a mutex is cheaper than a recorder each.
type errorTally struct {
	mu     sync.Mutex
	counts map[string]int64
	total  atomic.Int64
}

func (t *errorTally) add(kind string) {
	t.mu.Lock()
	t.counts[kind]++
	t.mu.Unlock()
	t.total.Add(1)
}

// holdStall ends the ramp of hold mode when the server holds no more polls for
// that long.
const holdStall = 5 * time.Second

// hold opens a long-poll on each session, waits until the server holds them all,
// keeps them held for the duration, then cancels them and waits until the server
// has let them go.
func (r *run) hold(ctx context.Context, sessions []deviceAuthorization) (*Report, error) {
	before, err := r.server.sample(ctx)
	if err != nil {
		return nil, fmt.Errorf("hold mode counts the held polls in the server's metrics: %w", err)
	}
	baseline := int64(before.HeldPolls)
	liveBefore, liveOK := r.liveMemory(ctx)
	tally := &errorTally{counts: make(map[string]int64)}
	var reissued atomic.Int64
	var peak atomic.Int64
	held := func(s ServerSample) int64 {
		n := int64(s.HeldPolls) - baseline
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				return n
			}
		}
	}

	start := time.Now()
	stopWatching := r.watch(ctx, func(now time.Time, s ServerSample, ok bool) {
		if !ok || r.cfg.ProgressEvery <= 0 {
			return
		}
		r.printf("%7.1fs  held %d/%d  reissued %d  %d errors  server rss %s heap %s goroutines %.0f\n",
			now.Sub(start).Seconds(), held(s), len(sessions), reissued.Load(), tally.total.Load(),
			formatBytes(s.ResidentBytes), formatBytes(s.HeapInuseBytes), s.Goroutines)
	})
	holdCtx, release := context.WithCancel(ctx)
	defer release()
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Go(func() { r.holdOne(holdCtx, s, tally, &reissued) })
	}

	// Ramp: wait until the server holds them all, or until what it holds has not
	// grown for holdStall.
	var ramp time.Duration
	var most int64
	grew := time.Now()
	for time.Since(grew) < holdStall && ctx.Err() == nil {
		s, err := r.server.sample(ctx)
		if err == nil {
			n := held(s)
			if n >= int64(len(sessions)) {
				ramp = time.Since(start)
				break
			}
			if n > most {
				most, grew = n, time.Now()
			}
		}
		sleepContext(ctx, 50*time.Millisecond)
	}
	if ramp == 0 && ctx.Err() == nil {
		r.printf("warning: the server never held all %d long-polls at once (at most %d)\n", len(sessions), peak.Load())
	}
	var liveHeld float64
	if liveOK && ramp > 0 {
		liveHeld, liveOK = r.liveMemory(ctx)
	}
	sleepContext(ctx, r.cfg.Duration)
	if s, err := r.server.sample(ctx); err == nil {
		held(s)
	}
	release()
	wg.Wait()
	elapsed := time.Since(start)

	// The server lets a poll go when it notices its client left: wait for that.
	var after ServerSample
	settleEnd := time.Now().Add(10 * time.Second)
	for {
		after, err = r.server.sample(context.WithoutCancel(ctx))
		if err != nil || int64(after.HeldPolls) <= baseline || !time.Now().Before(settleEnd) {
			break
		}
		sleepContext(context.WithoutCancel(ctx), 50*time.Millisecond)
	}
	stopWatching()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	report := r.newReport(start, elapsed)
	report.Completed = peak.Load()
	tally.mu.Lock()
	report.Errors = errorCounts(maps.Clone(tally.counts))
	tally.mu.Unlock()
	report.Failed = tally.total.Load()
	report.Hold = &HoldStats{
		Requested:        len(sessions),
		Held:             peak.Load(),
		RampSeconds:      ramp.Seconds(),
		HeldAfterRelease: int64(after.HeldPolls) - baseline,
		Reissued:         reissued.Load(),
	}
	if liveOK && liveHeld > 0 && report.Hold.Held > 0 {
		report.Hold.LiveBeforeBytes, report.Hold.LiveHeldBytes = liveBefore, liveHeld
		report.Hold.PerPollBytes = (liveHeld - liveBefore) / float64(report.Hold.Held)
	}
	report.Server = r.server.stats()
	return report, nil
}

// holdOne keeps a long-poll open on a session until ctx ends: a poll the server
// answers at the end of its wait is sent again at once.
func (r *run) holdOne(ctx context.Context, da deviceAuthorization, tally *errorTally, reissued *atomic.Int64) {
	form := pollForm(da.DeviceCode, LongPollWait)
	var buf bytes.Buffer
	for ctx.Err() == nil {
		sent := time.Now()
		code, err := r.wire.postForm(ctx, r.rp.tokenURL, r.rp.clientAuth, form, &buf)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			tally.add(transportFailure(err).kind)
			sleepContext(ctx, time.Second)
			continue
		}
		var a oauthAnswer
		_ = json.Unmarshal(buf.Bytes(), &a)
		switch {
		case code == http.StatusBadRequest && a.Code == "authorization_pending" && time.Since(sent) >= (LongPollWait-1)*time.Second:
			reissued.Add(1)
		case code == http.StatusBadRequest && a.Code == "authorization_pending":
			// Answered at once: the server did not hold it.
			tally.add(stepToken.String() + ":not_held")
			r.hint()
			sleepContext(ctx, da.interval())
		case code == http.StatusBadRequest && a.Code == "slow_down":
			tally.add(stepToken.String() + ":slow_down")
			sleepContext(ctx, max(time.Duration(a.Interval)*time.Second, da.interval()))
		default:
			f := answerFailure(stepToken, code, buf.Bytes())
			tally.add(f.kind)
			if f.limited {
				r.hint()
			}
			return
		}
	}
}

// sleepContext waits d or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
