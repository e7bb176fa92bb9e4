package ratelimit

import "sync"

// Concurrency caps how many long-lived requests (long-polls, event streams) one key
// holds at once. Memory is bounded by the number of keys holding a slot: a key is
// forgotten when its last slot is released.
type Concurrency struct {
	max  int
	mu   sync.Mutex
	held map[string]int
}

// NewConcurrency allows max slots per key.
func NewConcurrency(max int) *Concurrency {
	if max <= 0 {
		panic("ratelimit: the concurrency cap must be positive")
	}
	return &Concurrency{max: max, held: map[string]int{}}
}

// Acquire takes a slot of key; it returns false when key holds max already. A nil
// Concurrency has no cap: every Acquire succeeds.
func (c *Concurrency) Acquire(key string) bool {
	if c == nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held[key] >= c.max {
		return false
	}
	c.held[key]++
	return true
}

// Release gives back a slot taken by Acquire.
func (c *Concurrency) Release(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held[key] <= 1 {
		delete(c.held, key)
		return
	}
	c.held[key]--
}

// Held is the number of slots key holds.
func (c *Concurrency) Held(key string) int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held[key]
}
