package memory_test

import (
	"context"
	"errors"
	"testing"

	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
)

func TestTransactionEndsWithItsContext(t *testing.T) {
	t.Run("ok/cancel_rolls_back_and_releases_the_store", func(t *testing.T) {
		s := memory.New()
		ctx, cancel := context.WithCancel(t.Context())
		tx, err := s.BeginTX(ctx)
		if err != nil {
			t.Fatalf("BeginTX: %v", err)
		}
		if err := s.CreateClient(tx, storage.Client{ID: "inside"}); err != nil {
			t.Fatalf("CreateClient inside: %v", err)
		}
		cancel()
		// This waits for the store, which the cancelled transaction must release.
		if err := s.CreateClient(t.Context(), storage.Client{ID: "outside"}); err != nil {
			t.Fatalf("CreateClient outside: %v", err)
		}
		if _, err := s.GetClient(t.Context(), "inside"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetClient inside: got error %v, want ErrNotFound", err)
		}
		if err := s.CreateClient(tx, storage.Client{ID: "late"}); err == nil {
			t.Error("a write with the context of a rolled-back transaction succeeded")
		}
		if err := s.Commit(tx); err == nil {
			t.Error("Commit of a rolled-back transaction succeeded")
		}
	})
	t.Run("fail/commit_after_cancel", func(t *testing.T) {
		s := memory.New()
		ctx, cancel := context.WithCancel(t.Context())
		tx, err := s.BeginTX(ctx)
		if err != nil {
			t.Fatalf("BeginTX: %v", err)
		}
		if err := s.CreateClient(tx, storage.Client{ID: "inside"}); err != nil {
			t.Fatalf("CreateClient inside: %v", err)
		}
		cancel()
		if err := s.Commit(tx); err == nil {
			t.Error("Commit after the context was cancelled succeeded")
		}
		if _, err := s.GetClient(t.Context(), "inside"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetClient inside: got error %v, want ErrNotFound", err)
		}
	})
	t.Run("fail/begin_with_cancelled_context", func(t *testing.T) {
		s := memory.New()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := s.BeginTX(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("BeginTX: got error %v, want context.Canceled", err)
		}
		if err := s.CreateClient(t.Context(), storage.Client{ID: "c1"}); err != nil {
			t.Fatalf("CreateClient: %v", err)
		}
	})
}
