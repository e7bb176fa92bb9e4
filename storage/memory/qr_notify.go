package memory

import (
	"context"
	"sync"

	"github.com/qrid/qrid/storage"
)

var _ storage.QRNotifier = (*Store)(nil)

// qrChange is one QR session change, as listeners hear of it.
type qrChange struct {
	id      string
	version int64
}

// qrHub hands QR session changes to the store's listeners. Changes are queued while
// the change is made (under the store's write lock, or when its transaction
// commits, before the lock is released), so every listener sees them in the order
// they were made; queueing never waits for a listener.
type qrHub struct {
	mu        sync.Mutex
	listeners map[*qrListener]struct{}
}

// qrListener is one ListenQR call: an unbounded queue and a signal that it is not
// empty.
type qrListener struct {
	mu      sync.Mutex
	pending []qrChange
	// wake holds a token while pending may be non-empty.
	wake chan struct{}
}

func (h *qrHub) subscribe() *qrListener {
	l := &qrListener{wake: make(chan struct{}, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.listeners == nil {
		h.listeners = map[*qrListener]struct{}{}
	}
	h.listeners[l] = struct{}{}
	return l
}

func (h *qrHub) unsubscribe(l *qrListener) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.listeners, l)
}

// publish queues c for every listener.
func (h *qrHub) publish(c qrChange) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for l := range h.listeners {
		l.mu.Lock()
		l.pending = append(l.pending, c)
		l.mu.Unlock()
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// take empties the queue.
func (l *qrListener) take() []qrChange {
	l.mu.Lock()
	defer l.mu.Unlock()
	changes := l.pending
	l.pending = nil
	return changes
}

// publishQR publishes a change made with ctx: at once when ctx carries no
// transaction (the caller holds the write lock, so changes are queued in the order
// they are made), otherwise when that transaction commits, and never if it rolls
// back. It must be called from inside write.
func (s *Store) publishQR(ctx context.Context, c qrChange) {
	if tx := s.transactionFrom(ctx); tx != nil {
		// write runs inside tx.run, which holds tx.mu.
		tx.afterCommit = append(tx.afterCommit, func() { s.qr.publish(c) })
		return
	}
	s.qr.publish(c)
}

// ListenQR calls changed with the ID and new version of every QR session change
// made through this store, in the order the changes were made, one call at a time
// on the calling goroutine, until ctx ends; then it returns ctx.Err(). ready is
// called once the listener is registered: every change made after ready returns is
// delivered. An in-process listener never misses a change, so reconnected is never
// called. A slow listener does not slow writers down: changes queue up for it.
func (s *Store) ListenQR(ctx context.Context, ready func(), reconnected func(), changed func(id string, version int64)) error {
	l := s.qr.subscribe()
	defer s.qr.unsubscribe(l)
	if ready != nil {
		ready()
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-l.wake:
			for _, c := range l.take() {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				changed(c.id, c.version)
			}
		}
	}
}
