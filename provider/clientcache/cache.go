package clientcache

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/qrid/qrid/storage"
)

// Defaults of Options.
const (
	DefaultTTL        = 2 * time.Second
	DefaultMaxEntries = 10_000
)

// evictSample is how many entries a full cache looks at for an expired one before
// it evicts the first it saw.
const evictSample = 8

// Store is where the cache reads clients; storage.Storage satisfies it.
type Store interface {
	GetClient(ctx context.Context, id string) (storage.Client, error)
}

// Options tune a Cache; the zero value means the defaults.
type Options struct {
	// TTL is how long an entry (a client, or the fact that an ID is unknown) is
	// served from memory; it bounds how long other nodes' changes take to be seen.
	// 0 means DefaultTTL.
	TTL time.Duration
	// MaxEntries bounds the number of entries; 0 means DefaultMaxEntries.
	MaxEntries int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Cache is a read-through cache of clients by ID. It is safe for concurrent use.
type Cache struct {
	store Store
	ttl   time.Duration
	max   int
	now   func() time.Time

	mu      sync.RWMutex
	entries map[string]entry
	// epoch counts invalidations: a read that started under an older epoch is
	// returned to its callers but not stored, since an Invalidate may have come
	// after it read the row. One counter for all IDs keeps this simple; client
	// changes are rare, and the cost of a discarded read is one more read.
	epoch uint64

	flights      singleflight.Group
	hits, misses atomic.Uint64
	reads        atomic.Uint64
}

// entry is one cached answer: a client, or "unknown" (found false).
type entry struct {
	client  storage.Client
	found   bool
	expires time.Time
}

// New returns an empty cache in front of store.
func New(store Store, opts Options) *Cache {
	c := &Cache{store: store, ttl: opts.TTL, max: opts.MaxEntries, now: opts.Now, entries: map[string]entry{}}
	if c.ttl <= 0 {
		c.ttl = DefaultTTL
	}
	if c.max <= 0 {
		c.max = DefaultMaxEntries
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// Get returns client id, from memory when a fresh entry exists and from the store
// otherwise. An unknown ID is storage.ErrNotFound, from memory too. Concurrent
// misses of one ID share one store read; a caller whose ctx ends stops waiting for
// it. The returned client is the caller's own copy.
func (c *Cache) Get(ctx context.Context, id string) (storage.Client, error) {
	now := c.now()
	c.mu.RLock()
	e, ok := c.entries[id]
	epoch := c.epoch
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		c.hits.Add(1)
		return e.result()
	}
	e, err := c.fill(ctx, id, epoch)
	if err != nil && ctx.Err() == nil && isContextError(err) {
		// The request whose context the shared read ran under went away; this one
		// did not, so it reads again (once: a store that reports timeouts of its
		// own must not keep it here).
		c.mu.RLock()
		epoch = c.epoch
		c.mu.RUnlock()
		e, err = c.fill(ctx, id, epoch)
	}
	if err != nil {
		return storage.Client{}, err
	}
	return e.result()
}

// fill reads id from the store, sharing the read with concurrent callers of the
// same epoch, and stores the answer unless an Invalidate came in between.
func (c *Cache) fill(ctx context.Context, id string, epoch uint64) (entry, error) {
	key := strconv.FormatUint(epoch, 10) + "/" + id
	ch := c.flights.DoChan(key, func() (any, error) {
		start := c.now() // the entry ages from before the read, so it is never older than the TTL
		c.reads.Add(1)
		cl, err := c.store.GetClient(ctx, id)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return entry{}, err
		}
		e := entry{client: cl, found: err == nil, expires: start.Add(c.ttl)}
		c.mu.Lock()
		if c.epoch == epoch {
			c.put(id, e, start)
		}
		c.mu.Unlock()
		return e, nil
	})
	c.misses.Add(1) // counted once the caller has joined a read: the count is of callers waiting or done
	select {
	case r := <-ch:
		if r.Err != nil {
			return entry{}, r.Err
		}
		return r.Val.(entry), nil
	case <-ctx.Done():
		return entry{}, ctx.Err()
	}
}

// put stores e under id, making room first when the cache is full. c.mu is held.
func (c *Cache) put(id string, e entry, now time.Time) {
	if _, ok := c.entries[id]; !ok && len(c.entries) >= c.max {
		c.evictOne(now)
	}
	c.entries[id] = e
}

// evictOne removes an expired entry among the first few the (randomised) map
// iteration yields, or else the first of them. c.mu is held.
func (c *Cache) evictOne(now time.Time) {
	victim, seen := "", 0
	for id, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, id)
			return
		}
		if seen == 0 {
			victim = id
		}
		if seen++; seen == evictSample {
			break
		}
	}
	delete(c.entries, victim)
}

// Invalidate forgets id: the next Get reads the store, and no read that started
// before Invalidate can put an older value back. Call it after every change to the
// client (create, update, new secret, delete).
func (c *Cache) Invalidate(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.epoch++
	c.mu.Unlock()
}

// Len is the number of entries held, fresh or expired.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// Collectors are the cache's Prometheus metrics, to register with the provider's:
// qrid_client_cache_hits_total, qrid_client_cache_misses_total (lookups that waited
// for a store read), qrid_client_cache_store_reads_total (the reads made; fewer when
// concurrent misses share one) and qrid_client_cache_entries.
func (c *Cache) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "qrid_client_cache_hits_total", Help: "Client lookups answered from this node's client cache.",
		}, func() float64 { return float64(c.hits.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "qrid_client_cache_misses_total", Help: "Client lookups that waited for a store read.",
		}, func() float64 { return float64(c.misses.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "qrid_client_cache_store_reads_total", Help: "Client reads the client cache made from the store.",
		}, func() float64 { return float64(c.reads.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "qrid_client_cache_entries", Help: "Entries (clients and unknown IDs) in this node's client cache.",
		}, func() float64 { return float64(c.Len()) }),
	}
}

// result is the entry as Get answers it: a copy of the client, or ErrNotFound.
func (e entry) result() (storage.Client, error) {
	if !e.found {
		return storage.Client{}, storage.ErrNotFound
	}
	return e.client.Clone(), nil
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
