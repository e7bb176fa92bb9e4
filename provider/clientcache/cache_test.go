package clientcache_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/qrid/qrid/provider/clientcache"
	"github.com/qrid/qrid/storage"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a fake clock that moves only when told.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// fakeStore counts reads. With release set, every read waits until it is closed
// (or the read's context ends); entered, when set, hears the ID of each read as it
// starts.
type fakeStore struct {
	mu      sync.Mutex
	clients map[string]storage.Client
	fail    error // returned by the next read, once

	reads   atomic.Int64
	release chan struct{}
	entered chan string
}

func newStore(clients ...storage.Client) *fakeStore {
	s := &fakeStore{clients: map[string]storage.Client{}}
	for _, c := range clients {
		s.clients[c.ID] = c
	}
	return s
}

func (s *fakeStore) GetClient(ctx context.Context, id string) (storage.Client, error) {
	s.reads.Add(1)
	if s.entered != nil {
		s.entered <- id
	}
	if s.release != nil {
		select {
		case <-s.release:
		case <-ctx.Done():
			return storage.Client{}, fmt.Errorf("fake store: %w", ctx.Err())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail; err != nil {
		s.fail = nil
		return storage.Client{}, err
	}
	c, ok := s.clients[id]
	if !ok {
		return storage.Client{}, storage.ErrNotFound
	}
	return c, nil
}

func (s *fakeStore) set(c storage.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.ID] = c
}

func (s *fakeStore) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.clients, id)
}

func tv(name string) storage.Client {
	return storage.Client{ID: "tv", Name: name, SecretDigest: []byte{1, 2, 3}, RedirectURIs: []string{"https://tv.example/cb"},
		GrantTypes: []string{"urn:ietf:params:oauth:grant-type:device_code"}, Scopes: []string{"openid", "profile"}}
}

func mustGet(t *testing.T, c *clientcache.Cache, id string) storage.Client {
	t.Helper()
	got, err := c.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("Get(%q): %v", id, err)
	}
	return got
}

func wantReads(t *testing.T, s *fakeStore, want int64) {
	t.Helper()
	if got := s.reads.Load(); got != want {
		t.Fatalf("store reads = %d, want %d", got, want)
	}
}

// waitFor polls cond until it holds; the deadline only turns a hang into a failure.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// gather returns the cache's metrics by name.
func gather(t *testing.T, c *clientcache.Cache) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c.Collectors()...)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		m := f.GetMetric()[0]
		if m.GetCounter() != nil {
			out[f.GetName()] = m.GetCounter().GetValue()
		} else {
			out[f.GetName()] = m.GetGauge().GetValue()
		}
	}
	return out
}

func TestGet(t *testing.T) {
	t.Parallel()

	t.Run("ok/hit within the TTL reads nothing", func(t *testing.T) {
		t.Parallel()
		clk, s := newClock(), newStore(tv("TV"))
		c := clientcache.New(s, clientcache.Options{TTL: 2 * time.Second, Now: clk.Now})
		if got := mustGet(t, c, "tv"); !reflect.DeepEqual(got, tv("TV")) {
			t.Fatalf("Get = %+v, want %+v", got, tv("TV"))
		}
		wantReads(t, s, 1)
		s.set(tv("Renamed elsewhere"))
		clk.Advance(2*time.Second - time.Nanosecond)
		if got := mustGet(t, c, "tv"); got.Name != "TV" {
			t.Fatalf("a fresh entry was not served from memory: name %q", got.Name)
		}
		wantReads(t, s, 1)
	})

	t.Run("ok/expiry reads again", func(t *testing.T) {
		t.Parallel()
		clk, s := newClock(), newStore(tv("TV"))
		c := clientcache.New(s, clientcache.Options{TTL: 2 * time.Second, Now: clk.Now})
		mustGet(t, c, "tv")
		s.set(tv("Renamed elsewhere"))
		clk.Advance(2 * time.Second)
		if got := mustGet(t, c, "tv"); got.Name != "Renamed elsewhere" {
			t.Fatalf("after the TTL, name = %q, want the store's", got.Name)
		}
		wantReads(t, s, 2)
		mustGet(t, c, "tv")
		wantReads(t, s, 2)
	})

	t.Run("ok/default TTL is two seconds", func(t *testing.T) {
		t.Parallel()
		clk, s := newClock(), newStore(tv("TV"))
		c := clientcache.New(s, clientcache.Options{Now: clk.Now})
		mustGet(t, c, "tv")
		clk.Advance(clientcache.DefaultTTL - time.Nanosecond)
		mustGet(t, c, "tv")
		wantReads(t, s, 1)
		clk.Advance(time.Nanosecond)
		mustGet(t, c, "tv")
		wantReads(t, s, 2)
	})

	t.Run("ok/invalidate makes the next Get read", func(t *testing.T) {
		t.Parallel()
		clk, s := newClock(), newStore(tv("TV"))
		c := clientcache.New(s, clientcache.Options{Now: clk.Now})
		mustGet(t, c, "tv")
		s.set(tv("Renamed here"))
		c.Invalidate("tv")
		if got := mustGet(t, c, "tv"); got.Name != "Renamed here" {
			t.Fatalf("after Invalidate, name = %q", got.Name)
		}
		wantReads(t, s, 2)
		s.remove("tv")
		c.Invalidate("tv")
		if _, err := c.Get(t.Context(), "tv"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("a deleted and invalidated client: err = %v, want ErrNotFound", err)
		}
		wantReads(t, s, 3)
	})

	t.Run("ok/unknown IDs are cached", func(t *testing.T) {
		t.Parallel()
		clk, s := newClock(), newStore()
		c := clientcache.New(s, clientcache.Options{TTL: 2 * time.Second, Now: clk.Now})
		for range 3 {
			if _, err := c.Get(t.Context(), "ghost"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
		}
		wantReads(t, s, 1)
		// Created on another node: seen once the entry expires.
		s.set(storage.Client{ID: "ghost", Name: "Ghost"})
		clk.Advance(time.Second)
		if _, err := c.Get(t.Context(), "ghost"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("within the TTL: err = %v, want the cached ErrNotFound", err)
		}
		clk.Advance(time.Second)
		if got := mustGet(t, c, "ghost"); got.Name != "Ghost" {
			t.Fatalf("after the TTL, name = %q", got.Name)
		}
		wantReads(t, s, 2)
		// Created on this node: seen at once.
		if _, err := c.Get(t.Context(), "new2"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatal(err)
		}
		s.set(storage.Client{ID: "new2"})
		c.Invalidate("new2")
		mustGet(t, c, "new2")
	})

	t.Run("ok/store errors are not cached", func(t *testing.T) {
		t.Parallel()
		clk, s := newClock(), newStore(tv("TV"))
		c := clientcache.New(s, clientcache.Options{Now: clk.Now})
		down := errors.New("connection refused")
		s.fail = down
		if _, err := c.Get(t.Context(), "tv"); !errors.Is(err, down) {
			t.Fatalf("err = %v, want the store's", err)
		}
		mustGet(t, c, "tv")
		wantReads(t, s, 2)
	})

	t.Run("ok/answers are copies", func(t *testing.T) {
		t.Parallel()
		clk, s := newClock(), newStore(tv("TV"))
		c := clientcache.New(s, clientcache.Options{Now: clk.Now})
		got := mustGet(t, c, "tv")
		got.Name = "changed"
		got.SecretDigest[0] = 9
		got.RedirectURIs[0] = "https://evil.example/cb"
		got.Scopes = append(got.Scopes[:1], "admin")
		got.GrantTypes[0] = "client_credentials"
		if again := mustGet(t, c, "tv"); !reflect.DeepEqual(again, tv("TV")) {
			t.Fatalf("a caller's change reached the cache: %+v", again)
		}
		wantReads(t, s, 1)
	})

	t.Run("ok/every slice field is copied", func(t *testing.T) {
		t.Parallel()
		// Fill every slice field of storage.Client, so that a field added later
		// and forgotten by the copy fails here.
		full := storage.Client{ID: "full"}
		v := reflect.ValueOf(&full).Elem()
		for i := range v.NumField() {
			if f := v.Field(i); f.Kind() == reflect.Slice {
				f.Set(reflect.MakeSlice(f.Type(), 1, 1))
			}
		}
		s := newStore(full)
		c := clientcache.New(s, clientcache.Options{Now: newClock().Now})
		a, b := mustGet(t, c, "full"), mustGet(t, c, "full")
		va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
		for i := range va.NumField() {
			if va.Field(i).Kind() == reflect.Slice && va.Field(i).Pointer() == vb.Field(i).Pointer() {
				t.Errorf("storage.Client.%s is shared between two answers", va.Type().Field(i).Name)
			}
		}
	})
}

func TestConcurrentMissesShareOneRead(t *testing.T) {
	t.Parallel()
	const callers = 50
	s := newStore(tv("TV"))
	s.release = make(chan struct{})
	c := clientcache.New(s, clientcache.Options{Now: newClock().Now})
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			got, err := c.Get(context.Background(), "tv")
			if err == nil && got.Name != "TV" {
				err = fmt.Errorf("name %q", got.Name)
			}
			errs <- err
		})
	}
	// Every caller has joined the one read, which is held until release.
	waitFor(t, "all callers to wait for the read", func() bool {
		return gather(t, c)["qrid_client_cache_misses_total"] == callers
	})
	close(s.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	wantReads(t, s, 1)
	want := map[string]float64{
		"qrid_client_cache_hits_total":        0,
		"qrid_client_cache_misses_total":      callers,
		"qrid_client_cache_store_reads_total": 1,
		"qrid_client_cache_entries":           1,
	}
	if got := gather(t, c); !reflect.DeepEqual(got, want) {
		t.Fatalf("metrics = %v, want %v", got, want)
	}
	mustGet(t, c, "tv")
	if hits := gather(t, c)["qrid_client_cache_hits_total"]; hits != 1 {
		t.Fatalf("hits = %v after a cached Get, want 1", hits)
	}
}

func TestInvalidateDuringARead(t *testing.T) {
	t.Parallel()
	s := newStore(tv("old"))
	s.release = make(chan struct{})
	s.entered = make(chan string, 2)
	c := clientcache.New(s, clientcache.Options{Now: newClock().Now})

	first := make(chan storage.Client, 1)
	go func() {
		got, _ := c.Get(context.Background(), "tv")
		first <- got
	}()
	<-s.entered // the first read has started, before the change

	s.set(tv("new"))
	c.Invalidate("tv")
	second := make(chan storage.Client, 1)
	go func() {
		got, _ := c.Get(context.Background(), "tv")
		second <- got
	}()
	<-s.entered // a Get after Invalidate does not join the older read
	close(s.release)

	<-first // may be either: it was concurrent with the change
	if got := <-second; got.Name != "new" {
		t.Fatalf("a Get that began after Invalidate answered %q", got.Name)
	}
	// Whatever order the two reads ended in, the older one stored nothing.
	if got := mustGet(t, c, "tv"); got.Name != "new" {
		t.Fatalf("cached %q after Invalidate", got.Name)
	}
	wantReads(t, s, 2)
}

func TestCancellation(t *testing.T) {
	t.Parallel()

	t.Run("ok/a waiter stops waiting when its context ends", func(t *testing.T) {
		t.Parallel()
		s := newStore(tv("TV"))
		s.release = make(chan struct{})
		c := clientcache.New(s, clientcache.Options{Now: newClock().Now})
		leader := make(chan error, 1)
		go func() {
			_, err := c.Get(context.Background(), "tv")
			leader <- err
		}()
		waitFor(t, "the first read", func() bool { return s.reads.Load() == 1 })
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.Get(ctx, "tv"); !errors.Is(err, context.Canceled) {
			t.Fatalf("a cancelled waiter: err = %v, want context.Canceled", err)
		}
		close(s.release)
		if err := <-leader; err != nil {
			t.Fatalf("the reading caller: %v", err)
		}
		wantReads(t, s, 1)
	})

	t.Run("ok/the read's own caller going away does not fail the others", func(t *testing.T) {
		t.Parallel()
		s := newStore(tv("TV"))
		s.release = make(chan struct{})
		c := clientcache.New(s, clientcache.Options{Now: newClock().Now})
		ctx, cancel := context.WithCancel(context.Background())
		leader := make(chan error, 1)
		go func() {
			_, err := c.Get(ctx, "tv")
			leader <- err
		}()
		waitFor(t, "the first read", func() bool { return s.reads.Load() == 1 })
		waiter := make(chan error, 1)
		go func() {
			got, err := c.Get(context.Background(), "tv")
			if err == nil && got.Name != "TV" {
				err = fmt.Errorf("name %q", got.Name)
			}
			waiter <- err
		}()
		waitFor(t, "the second caller to join", func() bool { return gather(t, c)["qrid_client_cache_misses_total"] == 2 })
		cancel() // the shared read fails with the first caller's context
		if err := <-leader; !errors.Is(err, context.Canceled) {
			t.Fatalf("the cancelled caller: err = %v", err)
		}
		close(s.release)
		if err := <-waiter; err != nil {
			t.Fatalf("the other caller: %v", err)
		}
		wantReads(t, s, 2)
	})
}

func TestSizeBound(t *testing.T) {
	t.Parallel()

	t.Run("ok/never more than MaxEntries", func(t *testing.T) {
		t.Parallel()
		s := newStore()
		for i := range 20 {
			s.set(storage.Client{ID: fmt.Sprint("c", i)})
		}
		c := clientcache.New(s, clientcache.Options{MaxEntries: 5, Now: newClock().Now})
		for i := range 40 { // clients and unknown IDs alike
			_, err := c.Get(t.Context(), fmt.Sprint("c", i))
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				t.Fatal(err)
			}
			if n := c.Len(); n > 5 {
				t.Fatalf("after %d IDs the cache holds %d entries, want at most 5", i+1, n)
			}
		}
		if n := c.Len(); n != 5 {
			t.Fatalf("Len = %d, want 5", n)
		}
	})

	t.Run("ok/an expired entry is evicted first", func(t *testing.T) {
		t.Parallel()
		clk, s := newClock(), newStore()
		for _, id := range []string{"a", "b", "c", "d"} {
			s.set(storage.Client{ID: id})
		}
		c := clientcache.New(s, clientcache.Options{TTL: 2 * time.Second, MaxEntries: 3, Now: clk.Now})
		mustGet(t, c, "a")
		clk.Advance(1500 * time.Millisecond)
		mustGet(t, c, "b")
		mustGet(t, c, "c")
		clk.Advance(time.Second) // a has expired, b and c have not
		mustGet(t, c, "d")
		wantReads(t, s, 4)
		mustGet(t, c, "b")
		mustGet(t, c, "c")
		mustGet(t, c, "d")
		wantReads(t, s, 4)
	})
}
