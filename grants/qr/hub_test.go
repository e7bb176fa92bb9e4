package qr

import (
	"testing"

	"github.com/qrid/qrid/storage"
)

// isClosed reports whether ch is closed.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestHubOwnWriteNotification: the store's notification of this node's own write
// may arrive before Publish; it must not send readers to the store. A version
// announced during a write that then fails (another node won) must.
func TestHubOwnWriteNotification(t *testing.T) {
	t.Parallel()
	v1 := storage.QRSession{ID: "q", Version: 1, State: storage.QRPending}
	v2 := v1
	v2.Version, v2.State = 2, storage.QRScanned

	t.Run("own_write", func(t *testing.T) {
		h := NewHub()
		h.Publish(v1)
		_, changed, _ := h.Snapshot("q")
		h.Expect("q", 2)
		h.Announce("q", 2) // the notification, first
		if _, fresh := h.Peek("q"); !fresh {
			t.Fatal("the announcement of the version being written made the entry stale")
		}
		h.Publish(v2)
		h.Settle("q")
		got, fresh := h.Peek("q")
		if !fresh || got.Version != 2 {
			t.Fatalf("after Publish and Settle: fresh %v, version %d; want fresh version 2", fresh, got.Version)
		}
		if !isClosed(changed) {
			t.Fatal("waiters were not woken by Publish")
		}
	})
	t.Run("lost_write", func(t *testing.T) {
		h := NewHub()
		h.Publish(v1)
		_, changed, _ := h.Snapshot("q")
		h.Expect("q", 2)
		h.Announce("q", 2) // another node's version 2
		h.Settle("q")      // our write failed: no Publish
		if _, fresh := h.Peek("q"); fresh {
			t.Fatal("a version announced during a failed write left the entry fresh")
		}
		if !isClosed(changed) {
			t.Fatal("waiters were not woken by the other node's change")
		}
	})
	t.Run("newer_than_written", func(t *testing.T) {
		h := NewHub()
		h.Publish(v1)
		h.Expect("q", 2)
		h.Announce("q", 3) // not ours: stale at once
		if _, fresh := h.Peek("q"); fresh {
			t.Fatal("a version newer than the one being written left the entry fresh")
		}
		h.Settle("q")
	})
}
