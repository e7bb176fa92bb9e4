package loadtest

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// step is a timed step of an iteration; its name prefixes the error kinds it causes.
type step int

const (
	stepDeviceAuth step = iota
	stepToken
	stepScan
	stepConfirm
	stepConfirmToPC
	stepVerify
	stepLogin
	stepPoll
	stepClientCredentials
	stepRefresh
	numSteps
)

var stepNames = [numSteps]string{
	stepDeviceAuth:        "device_auth",
	stepToken:             "token",
	stepScan:              "scan",
	stepConfirm:           "confirm",
	stepConfirmToPC:       "confirm_to_pc",
	stepVerify:            "verify",
	stepLogin:             "login",
	stepPoll:              "poll",
	stepClientCredentials: "client_credentials",
	stepRefresh:           "refresh",
}

func (s step) String() string { return stepNames[s] }

// recorder is one worker's measurements. Only its worker writes the samples and
// the error map; completed and failed are atomic so that the progress line can read
// them while the worker runs.
type recorder struct {
	completed atomic.Int64
	failed    atomic.Int64
	samples   [numSteps][]time.Duration
	errors    map[string]int64
}

func newRecorder() *recorder { return &recorder{errors: make(map[string]int64)} }

// observe records that s took d; a nil recorder records nothing.
func (r *recorder) observe(s step, d time.Duration) {
	if r != nil {
		r.samples[s] = append(r.samples[s], d)
	}
}

// done records a completed iteration.
func (r *recorder) done() { r.completed.Add(1) }

// fail records a failed iteration and its error's kind.
func (r *recorder) fail(kind string) {
	r.errors[kind]++
	r.failed.Add(1)
}

// merged is the sum of the recorders of a run.
type merged struct {
	completed, failed int64
	steps             []StepStats
	errors            []ErrorCount
}

// modeSteps are the timed steps of each mode, in the order an iteration runs them.
var modeSteps = map[Mode][]step{
	ModeLogin:             {stepDeviceAuth, stepScan, stepConfirm, stepConfirmToPC, stepVerify, stepLogin},
	ModePoll:              {stepPoll},
	ModeClientCredentials: {stepClientCredentials},
	ModeRefresh:           {stepRefresh, stepVerify},
}

// merge sums recorders; call it once their workers have stopped. The report lists
// the steps in order that have samples.
func merge(recs []*recorder, order []step) merged {
	var m merged
	errs := make(map[string]int64)
	for _, r := range recs {
		m.completed += r.completed.Load()
		m.failed += r.failed.Load()
		for k, n := range r.errors {
			errs[k] += n
		}
	}
	for _, s := range order {
		var all []time.Duration
		for _, r := range recs {
			all = append(all, r.samples[s]...)
		}
		if len(all) > 0 {
			m.steps = append(m.steps, summarize(s.String(), all))
		}
	}
	m.errors = errorCounts(errs)
	return m
}

// errorCounts lists errs by descending count, then kind.
func errorCounts(errs map[string]int64) []ErrorCount {
	out := make([]ErrorCount, 0, len(errs))
	for _, k := range slices.Sorted(maps.Keys(errs)) {
		out = append(out, ErrorCount{Kind: k, Count: errs[k]})
	}
	slices.SortStableFunc(out, func(a, b ErrorCount) int { return cmp.Compare(b.Count, a.Count) })
	return out
}

// summarize computes a step's statistics; it sorts samples.
func summarize(name string, samples []time.Duration) StepStats {
	slices.Sort(samples)
	var sum time.Duration
	for _, d := range samples {
		sum += d
	}
	return StepStats{
		Name:  name,
		Count: int64(len(samples)),
		Mean:  millis(sum / time.Duration(len(samples))),
		P50:   millis(percentile(samples, 0.50)),
		P95:   millis(percentile(samples, 0.95)),
		P99:   millis(percentile(samples, 0.99)),
		Max:   millis(samples[len(samples)-1]),
	}
}

// percentile is the nearest-rank p-quantile of sorted: the smallest sample that is
// at least p of them.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// The small offset keeps 0.95*100 = 95.00000000000001 at rank 95.
	rank := int(math.Ceil(p*float64(len(sorted)) - 1e-9))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// millis is d in milliseconds.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
