package ratelimit

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(Limit{Every: 10 * time.Second, Burst: 3}, 0)
	for i := range 3 {
		if ok, _ := l.Take("a", now); !ok {
			t.Fatalf("attempt %d of the burst was refused", i+1)
		}
	}
	ok, wait := l.Take("a", now)
	if ok || wait != 10*time.Second {
		t.Fatalf("over the burst: ok=%v wait=%v, want refused for 10s", ok, wait)
	}
	if ok, _ := l.Take("b", now); !ok {
		t.Fatal("another key was limited by the first")
	}
	if ok, _ := l.Take("a", now.Add(10*time.Second)); !ok {
		t.Fatal("an attempt after the wait was refused")
	}
	l.Refund("a", now.Add(10*time.Second))
	if ok, _ := l.Take("a", now.Add(10*time.Second)); !ok {
		t.Fatal("a refunded attempt was not given back")
	}
}

func TestLimiterBoundedMemory(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(Limit{Every: time.Minute, Burst: 1}, 100)
	for i := range 1000 {
		l.Take(string(rune('a'+i%26))+string(rune(i)), now)
	}
	if n := l.Size(); n > 100 {
		t.Fatalf("the limiter remembers %d keys, more than its bound of 100", n)
	}
	// Keys whose bucket refilled are forgotten.
	l.Take("late", now.Add(time.Hour))
	if n := l.Size(); n > 2 {
		t.Fatalf("idle keys were not swept: %d remain", n)
	}
}

func TestConcurrency(t *testing.T) {
	c := NewConcurrency(2)
	for i := range 2 {
		if !c.Acquire("ip") {
			t.Fatalf("slot %d under the cap was refused", i+1)
		}
	}
	if c.Acquire("ip") {
		t.Fatal("a third slot was given with a cap of 2")
	}
	if !c.Acquire("other") {
		t.Fatal("another key was capped by the first")
	}
	c.Release("ip")
	if !c.Acquire("ip") {
		t.Fatal("a released slot was not given back")
	}
	c.Release("ip")
	c.Release("ip")
	c.Release("other")
	if n := c.Held("ip") + c.Held("other"); n != 0 {
		t.Fatalf("%d slots still held after every release", n)
	}
	if len(c.held) != 0 {
		t.Fatal("released keys are still remembered")
	}
}
