package mobile

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	type step struct {
		at     time.Duration // since the start
		key    string
		refund bool
		wantOK bool
		// wantWait is the wait answered when refused.
		wantWait time.Duration
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"ok/burst", []step{
			{at: 0, key: "a", wantOK: true},
			{at: 0, key: "a", wantOK: true},
			{at: 0, key: "a", wantOK: true},
		}},
		{"fail/over_burst", []step{
			{at: 0, key: "a", wantOK: true},
			{at: 0, key: "a", wantOK: true},
			{at: 0, key: "a", wantOK: true},
			{at: 0, key: "a", wantOK: false, wantWait: 10 * time.Second},
			{at: 4 * time.Second, key: "a", wantOK: false, wantWait: 6 * time.Second},
			{at: 10 * time.Second, key: "a", wantOK: true},
			{at: 10 * time.Second, key: "a", wantOK: false, wantWait: 10 * time.Second},
		}},
		{"ok/keys_independent", []step{
			{at: 0, key: "a", wantOK: true},
			{at: 0, key: "a", wantOK: true},
			{at: 0, key: "a", wantOK: true},
			{at: 0, key: "b", wantOK: true},
		}},
		{"ok/refund", []step{
			{at: 0, key: "a", wantOK: true},
			{at: 0, key: "a", refund: true},
			{at: 0, key: "a", wantOK: true},
			{at: 0, key: "a", wantOK: true},
			{at: 0, key: "a", wantOK: true},
			{at: 0, key: "a", wantOK: false, wantWait: 10 * time.Second},
		}},
		{"ok/refill_caps_at_burst", []step{
			{at: 0, key: "a", wantOK: true},
			{at: time.Hour, key: "a", wantOK: true},
			{at: time.Hour, key: "a", wantOK: true},
			{at: time.Hour, key: "a", wantOK: true},
			{at: time.Hour, key: "a", wantOK: false, wantWait: 10 * time.Second},
		}},
	}
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLimiter(Limit{Every: 10 * time.Second, Burst: 3}, DefaultLoginPerIP, 0)
			for i, s := range tt.steps {
				now := start.Add(s.at)
				if s.refund {
					l.Refund(s.key, now)
					continue
				}
				ok, wait := l.Take(s.key, now)
				if ok != s.wantOK || wait != s.wantWait {
					t.Fatalf("step %d: take = %v, %s; want %v, %s", i, ok, wait, s.wantOK, s.wantWait)
				}
			}
		})
	}
}

func TestLimiterBounded(t *testing.T) {
	t.Parallel()
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(Limit{Every: time.Minute, Burst: 5}, DefaultLoginPerIP, 100)
	for i := range 1000 {
		l.Take(string(rune('A'+i%26))+string(rune(i)), start)
	}
	if n := l.Size(); n > 100 {
		t.Errorf("%d keys remembered, want at most 100", n)
	}
	// Keys whose bucket refilled are swept.
	l.Take("late", start.Add(10*time.Minute))
	if n := l.Size(); n != 1 {
		t.Errorf("%d keys after every bucket refilled, want 1", n)
	}
}

func TestLimiterDefaults(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(Limit{}, Limit{Every: time.Minute, Burst: 1}, 0)
	if ok, _ := l.Take("k", now); !ok {
		t.Fatal("the first attempt was refused")
	}
	if ok, wait := l.Take("k", now); ok || wait != time.Minute {
		t.Fatalf("an unset limit did not fall back to the default: ok=%v wait=%v", ok, wait)
	}
}
