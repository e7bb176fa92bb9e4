// Package ratelimit is qrid's keyed rate limiter: per account, per IP address or per
// client, with bounded memory, answering how long to wait (for Retry-After).
package ratelimit

import (
	"sync"
	"time"
)

// Limit is a rate: one attempt more is allowed every Every, and at most Burst may be
// made at once after a quiet spell. Limit{Every: 12 * time.Second, Burst: 5} allows 5
// attempts at once and then 5 a minute.
type Limit struct {
	Every time.Duration
	Burst int
}

// DefaultMaxKeys bounds the keys (usernames, IP addresses, accounts) each
// limiter remembers.
const DefaultMaxKeys = 100_000

// sweepEvery is how many calls a limiter makes between sweeps of its idle keys.
const sweepEvery = 1024

// Limiter is a keyed rate limiter using the generic cell rate algorithm (GCRA), the
// token bucket expressed as one time per key: tat, the "theoretical arrival time",
// is when the key's bucket would be full again. An attempt at now is allowed while
// tat - now ≤ (Burst-1)·Every, and moves tat on by Every.
//
// A key whose tat has passed has a full bucket, which is exactly what an absent key
// means, so such keys are dropped by a sweep without losing anything. Memory is
// bounded by max: when the map is full even after a sweep, one key chosen at random
// (map order) is dropped, which at worst gives that key a fresh bucket.
type Limiter struct {
	every time.Duration
	burst int
	max   int

	mu    sync.Mutex
	tat   map[string]time.Time
	calls int
}

// New returns a limiter allowing l per key, remembering at most max keys (0 means
// DefaultMaxKeys).
func New(l Limit, max int) *Limiter {
	if l.Every <= 0 || l.Burst <= 0 {
		panic("ratelimit: Every and Burst must be positive")
	}
	if max <= 0 {
		max = DefaultMaxKeys
	}
	return &Limiter{every: l.Every, burst: l.Burst, max: max, tat: map[string]time.Time{}}
}

// Take spends one attempt of key at now. When none is left it returns false and how
// long until one is. A nil Limiter allows every attempt: rate limits turned off.
func (l *Limiter) Take(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.calls%sweepEvery == 0 || len(l.tat) >= l.max {
		l.sweep(now)
	}
	tat, ok := l.tat[key]
	if !ok || tat.Before(now) {
		tat = now
	}
	allowAt := tat.Add(-time.Duration(l.burst-1) * l.every)
	if now.Before(allowAt) {
		return false, allowAt.Sub(now)
	}
	if !ok && len(l.tat) >= l.max {
		for k := range l.tat {
			delete(l.tat, k)
			break
		}
	}
	l.tat[key] = tat.Add(l.every)
	return true, 0
}

// Refund gives back an attempt taken by take (a sign-in that succeeded does not count
// against later ones).
func (l *Limiter) Refund(key string, now time.Time) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	tat, ok := l.tat[key]
	if !ok {
		return
	}
	tat = tat.Add(-l.every)
	if !tat.After(now) {
		delete(l.tat, key)
		return
	}
	l.tat[key] = tat
}

// sweep drops the keys whose bucket is full at now.
func (l *Limiter) sweep(now time.Time) {
	for k, tat := range l.tat {
		if !tat.After(now) {
			delete(l.tat, k)
		}
	}
}

// Size is the number of keys remembered.
func (l *Limiter) Size() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.tat)
}
