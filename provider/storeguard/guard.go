package storeguard

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Pinger is what a Guard needs from the store: storage.Storage has it.
type Pinger interface {
	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
}

// Options configure a Guard. Zero values take the defaults given.
type Options struct {
	// CheckEvery is the interval between pings while the store answers (5 s).
	CheckEvery time.Duration
	// RetryMin and RetryMax bound the interval between pings while the store is
	// down: RetryMin after the outage is noticed, doubling after each failed ping up
	// to RetryMax (1 s and 5 s).
	RetryMin, RetryMax time.Duration
	// PingTimeout bounds one ping; a ping that has not answered by then failed (2 s).
	PingTimeout time.Duration
	// FailuresToTrip is the number of failed pings in a row that mark the store down
	// (2). After a failed ping the next one is made at once.
	FailuresToTrip int
	// MinCheckGap is the least time between a ping and one asked for by Report or a
	// 5xx answer (250 ms), so that a stream of failing requests does not become a
	// stream of pings.
	MinCheckGap time.Duration
	// Exempt are the paths served even while the store is down; an entry ending in
	// "/" is a prefix (/healthz, /metrics and /static/).
	Exempt []string
	// Logger receives the outage's start and end (slog.Default()).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.CheckEvery <= 0 {
		o.CheckEvery = 5 * time.Second
	}
	if o.RetryMin <= 0 {
		o.RetryMin = time.Second
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(5*time.Second, o.RetryMin)
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = 2 * time.Second
	}
	if o.FailuresToTrip <= 0 {
		o.FailuresToTrip = 2
	}
	if o.MinCheckGap <= 0 {
		o.MinCheckGap = 250 * time.Millisecond
	}
	if o.Exempt == nil {
		o.Exempt = []string{"/healthz", "/metrics", "/static/"}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Guard knows whether the store is reachable and gates requests on it. Its methods
// are safe for concurrent use. Until Start is called it reports the store up and
// checks nothing.
type Guard struct {
	store Pinger
	opts  Options
	log   *slog.Logger

	down atomic.Bool
	// watching is true from Start to Close.
	watching atomic.Bool
	// retryAfter is the current retry delay while down, in whole seconds (≥ 1).
	retryAfter atomic.Int64
	// nudge asks the watcher for a ping now (buffered: requests coalesce).
	nudge chan struct{}

	outages atomic.Int64 // outages noticed
	refused atomic.Int64 // requests answered 503 by the middleware

	mu      sync.Mutex
	changed chan struct{} // closed at the next change of state, then replaced

	startOnce sync.Once
	stopOnce  sync.Once
	stop      context.CancelFunc
	done      chan struct{}
}

// New returns a guard watching store. Call Start to begin watching.
func New(store Pinger, opts Options) *Guard {
	opts = opts.withDefaults()
	g := &Guard{
		store:   store,
		opts:    opts,
		log:     opts.Logger.With("component", "storeguard"),
		nudge:   make(chan struct{}, 1),
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
	g.retryAfter.Store(seconds(opts.RetryMin))
	return g
}

// Start begins watching the store in the background, with a first ping at once. The
// watcher stops when ctx ends or Close is called. Calls after the first do nothing.
func (g *Guard) Start(ctx context.Context) {
	g.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(ctx)
		g.mu.Lock()
		g.stop = cancel
		g.mu.Unlock()
		g.watching.Store(true)
		go g.watch(ctx)
	})
}

// Close stops the watcher and waits until it has stopped. The guard keeps the last
// state it knew. Close is safe to call more than once, and without Start.
func (g *Guard) Close() {
	g.stopOnce.Do(func() {
		started := false
		g.startOnce.Do(func() {}) // a later Start does nothing
		g.watching.Store(false)
		g.mu.Lock()
		if g.stop != nil {
			g.stop()
			started = true
		}
		g.mu.Unlock()
		if started {
			<-g.done
		}
	})
}

// Down reports whether the store is unreachable right now.
func (g *Guard) Down() bool { return g.down.Load() }

// Changed returns a channel that is closed when the store next goes down or comes
// back up.
func (g *Guard) Changed() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.changed
}

// RetryAfter is the delay a refused client is told to wait (the Retry-After header).
func (g *Guard) RetryAfter() time.Duration {
	return time.Duration(g.retryAfter.Load()) * time.Second
}

// Report tells the guard about an error a store call returned. A connection-level
// error (IsConnectionError) makes the guard ping the store at once, unless it
// already knows the store is down; other errors (not found, conflicts, a client that
// went away) are none of its business.
func (g *Guard) Report(err error) {
	if IsConnectionError(err) {
		g.Check()
	}
}

// Check asks for a ping as soon as MinCheckGap allows, unless the store is already
// known to be down (the retry schedule rules then).
func (g *Guard) Check() {
	if g.down.Load() {
		return
	}
	select {
	case g.nudge <- struct{}{}:
	default: // a ping is already asked for
	}
}

// watch is the watcher: it pings on a timer (CheckEvery while up, the retry delay
// while down) and when nudged, and flips the state.
func (g *Guard) watch(ctx context.Context) {
	defer close(g.done)
	timer := time.NewTimer(0)
	defer timer.Stop()
	var (
		failures int
		retry    = g.opts.RetryMin
		lastPing time.Time
		since    time.Time // start of the current outage
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-g.nudge:
			if g.down.Load() {
				continue
			}
			if wait := time.Until(lastPing.Add(g.opts.MinCheckGap)); wait > 0 {
				timer.Reset(wait)
				continue
			}
		}
		err := g.ping(ctx)
		lastPing = time.Now()
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil:
			failures, retry = 0, g.opts.RetryMin
			if g.down.Load() {
				g.retryAfter.Store(seconds(retry))
				g.setDown(false)
				g.log.Info("the store answers again; serving requests", "outage", time.Since(since).Round(time.Millisecond))
			}
			timer.Reset(g.opts.CheckEvery)
		case g.down.Load():
			retry = min(2*retry, g.opts.RetryMax)
			g.retryAfter.Store(seconds(retry))
			g.log.Debug("the store still does not answer", "err", err, "retry_in", retry)
			timer.Reset(retry)
		default:
			failures++
			if failures < g.opts.FailuresToTrip {
				timer.Reset(0)
				continue
			}
			since = time.Now()
			retry = g.opts.RetryMin
			g.retryAfter.Store(seconds(retry))
			g.outages.Add(1)
			g.setDown(true)
			g.log.Error("the store does not answer; refusing requests until it does", "err", err, "retry_in", retry)
			timer.Reset(retry)
		}
	}
}

func (g *Guard) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, g.opts.PingTimeout)
	defer cancel()
	return g.store.Ping(ctx)
}

func (g *Guard) setDown(down bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.down.Store(down)
	close(g.changed)
	g.changed = make(chan struct{})
}

// seconds rounds d up to whole seconds, at least 1 (Retry-After, RFC 9110 §10.2.3).
func seconds(d time.Duration) int64 {
	return max(1, int64((d+time.Second-1)/time.Second))
}
