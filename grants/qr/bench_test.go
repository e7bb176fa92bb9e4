package qr

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
)

// benchDigest is a keyed digest like the provider's (HMAC-SHA256, hex).
func benchDigest(purpose string) Digest {
	key := []byte("bench-" + purpose)
	return func(s string) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		return hex.EncodeToString(m.Sum(nil))
	}
}

// BenchmarkPollPending measures Service.Poll (no wait) on a pending session the hub
// knows, on the memory store. The clock advances by the interval before every poll,
// so no poll is told slow_down; DESIGN §7 says such a poll reads nothing from the
// store.
func BenchmarkPollPending(b *testing.B) {
	ctx := context.Background()
	store := memory.New()
	if err := store.CreateClient(ctx, storage.Client{ID: "tv", Name: "TV", CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	const interval = time.Second
	svc, err := NewService(store, NewHub(), Config{
		Issuer: "https://id.example", Interval: interval,
		// Long enough that advancing the clock by an interval per poll never expires
		// the session, whatever b.N is.
		TTL:         10 * 365 * 24 * time.Hour,
		DeviceCodes: benchDigest("d"), UserCodes: benchDigest("u"), ConfirmTokens: benchDigest("c"),
		Now: func() time.Time { return now },
	})
	if err != nil {
		b.Fatal(err)
	}
	a, err := svc.Authorize(ctx, AuthorizeRequest{ClientID: "tv", Scopes: []string{"openid"}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		now = now.Add(interval)
		res, err := svc.Poll(ctx, "tv", a.DeviceCode, 0)
		if err != nil {
			b.Fatalf("poll: %v", err)
		}
		if res.Status != PollPending {
			b.Fatalf("poll status = %v, want pending", res.Status)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "polls/s")
}

// BenchmarkHubPublishWake measures how long a waiter parked on a session's change
// channel takes to wake after Publish of a newer version. One iteration is a full
// round trip (the waiter re-arms, the benchmark publishes, the waiter wakes and
// reports back); wake-ns/op is the part from just before Publish to the waiter
// running again, and wake-p50-ns / wake-p99-ns its distribution.
func BenchmarkHubPublishWake(b *testing.B) {
	hub := NewHub()
	sess := storage.QRSession{ID: "s1", DeviceCodeDigest: "d1", ClientID: "tv", State: storage.QRPending, Version: 1}
	hub.Publish(sess)

	armed := make(chan struct{})
	woke := make(chan time.Time)
	stop := make(chan struct{})
	go func() {
		for {
			_, changed, _ := hub.Snapshot(sess.ID)
			select {
			case armed <- struct{}{}:
			case <-stop:
				return
			}
			<-changed
			woke <- time.Now()
		}
	}()
	defer close(stop)

	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		<-armed
		sess.Version++
		t0 := time.Now()
		hub.Publish(sess)
		lat = append(lat, (<-woke).Sub(t0))
	}
	b.StopTimer()
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	slices.Sort(lat)
	b.ReportMetric(float64(sum.Nanoseconds())/float64(len(lat)), "wake-ns/op")
	b.ReportMetric(float64(percentile(lat, 50).Nanoseconds()), "wake-p50-ns")
	b.ReportMetric(float64(percentile(lat, 99).Nanoseconds()), "wake-p99-ns")
}

// percentile returns the p-th percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return sorted[i-1]
}

// BenchmarkPendingSessionMemory measures what a pending QR session costs a node on
// the memory store: the session, its indexes and its hub entry (once polled), as
// live heap after a collection, divided by the sessions. Each iteration authorizes
// and polls one session, which stays pending; the sessions carry a realistic
// requester (IP, user agent) and scopes.
func BenchmarkPendingSessionMemory(b *testing.B) {
	ctx := context.Background()
	store := memory.New()
	if err := store.CreateClient(ctx, storage.Client{ID: "tv", Name: "TV", CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	svc, err := NewService(store, NewHub(), Config{
		Issuer: "https://id.example", Interval: 5 * time.Second, TTL: time.Hour,
		MaxPendingPerClient: -1,
		DeviceCodes:         benchDigest("d"), UserCodes: benchDigest("u"), ConfirmTokens: benchDigest("c"),
	})
	if err != nil {
		b.Fatal(err)
	}
	before := liveHeap()
	b.ResetTimer()
	for b.Loop() {
		a, err := svc.Authorize(ctx, AuthorizeRequest{ClientID: "tv", Scopes: []string{"openid", "profile", "offline_access"},
			Matching: true, RequesterIP: "203.0.113.45",
			RequesterUserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.Poll(ctx, "tv", a.DeviceCode, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(liveHeap()-before)/float64(b.N), "bytes/session")
	runtime.KeepAlive(store)
	runtime.KeepAlive(svc)
}

// BenchmarkHubSessionMemory measures what a pending QR session costs a node on
// PostgreSQL, where the session lives in the database and the node keeps only its
// hub's copy: each iteration publishes one session as a row read from the database
// gives it (every string its own allocation), and bytes/session is the live heap
// added, strings included.
func BenchmarkHubSessionMemory(b *testing.B) {
	h := NewHub()
	device, user := benchDigest("d"), benchDigest("u")
	before := liveHeap()
	i := 0
	for b.Loop() {
		i++
		n := strconv.Itoa(i)
		now := time.Now()
		h.Publish(storage.QRSession{
			ID: newQRID(), Kind: strings.Clone("device"),
			DeviceCodeDigest: device(n), UserCodeDigest: user(n), ClientID: strings.Clone("living-room-tv"),
			Scopes:    []string{strings.Clone("openid"), strings.Clone("profile"), strings.Clone("offline_access")},
			State:     storage.QRState(strings.Clone("pending")),
			MatchCode: strings.Clone("42"), MatchChoices: []string{strings.Clone("17"), strings.Clone("42"), strings.Clone("93")},
			Interval: 5, RequesterIP: strings.Clone("203.0.113.45"),
			RequesterUserAgent: strings.Clone("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
			CreatedAt:          now, ExpiresAt: now.Add(5 * time.Minute), Version: 1,
		})
	}
	b.StopTimer()
	b.ReportMetric(float64(liveHeap()-before)/float64(b.N), "bytes/session")
	runtime.KeepAlive(h)
}

// liveHeap is the heap in use by live objects, after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
