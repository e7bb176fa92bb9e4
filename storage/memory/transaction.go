package memory

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

var (
	errNestedTransaction = errors.New("memory: context already carries a transaction")
	errNoTransaction     = errors.New("memory: context carries no transaction")
	errTransactionDone   = errors.New("memory: transaction has already been committed or rolled back")
)

// transactionKey is the context key of a store's open transaction. Keying by store
// keeps transactions of two stores on one context apart.
type transactionKey struct{ store *Store }

// transaction is an open transaction. It owns the store's write lock from BeginTX
// until it ends.
type transaction struct {
	store *Store
	// stopRollbackOnCancel unregisters the rollback scheduled for when the BeginTX
	// context is cancelled.
	stopRollbackOnCancel func() bool

	// mu serialises the calls made with the transaction's context and guards the
	// fields below.
	mu   sync.Mutex
	done bool
	undo undoLog
	// afterCommit runs, in order, when the transaction commits, before the store is
	// released (QR change notifications are queued there).
	afterCommit []func()
}

func (s *Store) transactionFrom(ctx context.Context) *transaction {
	tx, _ := ctx.Value(transactionKey{s}).(*transaction)
	return tx
}

// BeginTX starts a transaction, waiting for any open one to end. The returned
// context carries it. Cancelling ctx rolls the transaction back.
func (s *Store) BeginTX(ctx context.Context) (context.Context, error) {
	if s.transactionFrom(ctx) != nil {
		return ctx, errNestedTransaction
	}
	if err := ctx.Err(); err != nil {
		return ctx, err
	}
	s.mu.Lock()
	tx := &transaction{store: s}
	tx.stopRollbackOnCancel = context.AfterFunc(ctx, func() { _ = tx.end(false) })
	return context.WithValue(ctx, transactionKey{s}, tx), nil
}

// Commit keeps the transaction's writes and ends it. If the context given to
// BeginTX has been cancelled the transaction is rolled back instead and Commit
// returns an error.
func (s *Store) Commit(ctx context.Context) error {
	tx := s.transactionFrom(ctx)
	if tx == nil {
		return errNoTransaction
	}
	tx.stopRollbackOnCancel()
	if err := ctx.Err(); err != nil {
		if endErr := tx.end(false); endErr != nil {
			return endErr
		}
		return fmt.Errorf("memory: transaction rolled back: %w", err)
	}
	return tx.end(true)
}

// Rollback discards the transaction's writes and ends it.
func (s *Store) Rollback(ctx context.Context) error {
	tx := s.transactionFrom(ctx)
	if tx == nil {
		return errNoTransaction
	}
	tx.stopRollbackOnCancel()
	return tx.end(false)
}

// run calls fn inside the transaction, with the undo log to record changes in.
func (tx *transaction) run(fn func(u *undoLog) error) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.done {
		return errTransactionDone
	}
	return fn(&tx.undo)
}

// end commits or rolls back the transaction and releases the store.
func (tx *transaction) end(commit bool) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.done {
		return errTransactionDone
	}
	tx.done = true
	if commit {
		for _, f := range tx.afterCommit {
			f()
		}
	} else {
		tx.undo.replay()
	}
	tx.undo, tx.afterCommit = nil, nil
	tx.store.mu.Unlock()
	return nil
}
