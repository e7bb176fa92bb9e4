package loadtest

import (
	"slices"
	"testing"
	"time"
)

func TestPercentileIsNearestRank(t *testing.T) {
	t.Parallel()
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"ok/p50 of 1..100", hundred, 0.50, 50 * time.Millisecond},
		{"ok/p95 of 1..100", hundred, 0.95, 95 * time.Millisecond},
		{"ok/p99 of 1..100", hundred, 0.99, 99 * time.Millisecond},
		{"ok/p100 is the max", hundred, 1, 100 * time.Millisecond},
		{"ok/one sample is every percentile", []time.Duration{7}, 0.5, 7},
		{"ok/p50 of three is the middle", []time.Duration{1, 2, 3}, 0.5, 2},
		{"ok/p99 of three is the max", []time.Duration{1, 2, 3}, 0.99, 3},
		{"ok/p0 is the min", []time.Duration{1, 2, 3}, 0, 1},
		{"ok/no samples", nil, 0.5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.samples, tc.p); got != tc.want {
				t.Errorf("percentile(%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

func TestMergeSumsWorkers(t *testing.T) {
	t.Parallel()
	a, b := newRecorder(), newRecorder()
	// Out of order and split across workers: the merge sorts them all.
	for _, ms := range []int{40, 10, 30} {
		a.observe(stepScan, time.Duration(ms)*time.Millisecond)
		a.done()
	}
	for _, ms := range []int{20, 50} {
		b.observe(stepScan, time.Duration(ms)*time.Millisecond)
		b.done()
	}
	b.observe(stepDeviceAuth, time.Millisecond)
	a.fail("scan:rate_limited")
	b.fail("scan:rate_limited")
	b.fail("token:invalid_grant")
	b.fail("confirm:expired")
	var none *recorder
	none.observe(stepScan, time.Hour) // a nil recorder records nothing

	m := merge([]*recorder{a, b}, modeSteps[ModeLogin])
	if m.completed != 5 || m.failed != 4 {
		t.Errorf("completed %d, failed %d; want 5 and 4", m.completed, m.failed)
	}
	wantSteps := []StepStats{
		{Name: "device_auth", Count: 1, Mean: 1, P50: 1, P95: 1, P99: 1, Max: 1},
		{Name: "scan", Count: 5, Mean: 30, P50: 30, P95: 50, P99: 50, Max: 50},
	}
	if !slices.Equal(m.steps, wantSteps) {
		t.Errorf("steps = %+v\nwant %+v", m.steps, wantSteps)
	}
	wantErrors := []ErrorCount{{"scan:rate_limited", 2}, {"confirm:expired", 1}, {"token:invalid_grant", 1}}
	if !slices.Equal(m.errors, wantErrors) {
		t.Errorf("errors = %v, want %v (most frequent first, then by kind)", m.errors, wantErrors)
	}
}

func TestMergeListsStepsInTheOrderOfTheMode(t *testing.T) {
	t.Parallel()
	r := newRecorder()
	r.observe(stepVerify, time.Millisecond)
	r.observe(stepRefresh, time.Millisecond)
	var names []string
	for _, s := range merge([]*recorder{r}, modeSteps[ModeRefresh]).steps {
		names = append(names, s.Name)
	}
	if want := []string{"refresh", "verify"}; !slices.Equal(names, want) {
		t.Errorf("steps %v, want %v", names, want)
	}
}
