package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/qrid/qrid/storage"
)

func dpopProofScenarios() []scenario {
	return []scenario{
		{"use_then_reuse_conflicts", func(t *testing.T, s storage.Storage) {
			ctx := t.Context()
			must(t, s.UseDPoPProof(ctx, "jkt-1", "jti-1", t0.Add(time.Minute)), "UseDPoPProof")
			mustBe(t, s.UseDPoPProof(ctx, "jkt-1", "jti-1", t0.Add(time.Minute)), storage.ErrConflict, "UseDPoPProof again")
			mustBe(t, s.UseDPoPProof(ctx, "jkt-1", "jti-1", t0.Add(time.Hour)), storage.ErrConflict, "UseDPoPProof again, later expiry")
		}},
		{"same_jti_of_another_key_is_another_proof", func(t *testing.T, s storage.Storage) {
			ctx := t.Context()
			must(t, s.UseDPoPProof(ctx, "jkt-1", "jti-1", t0), "UseDPoPProof jkt-1")
			must(t, s.UseDPoPProof(ctx, "jkt-2", "jti-1", t0), "UseDPoPProof jkt-2")
			must(t, s.UseDPoPProof(ctx, "jkt-1", "jti-2", t0), "UseDPoPProof jti-2")
		}},
		{"concurrent_uses_exactly_one_wins", func(t *testing.T, s storage.Storage) {
			errs := runTogether(contenders, func(int) error {
				return s.UseDPoPProof(t.Context(), "jkt-1", "jti-1", t0.Add(time.Minute))
			})
			assertOneWinner(t, "UseDPoPProof", errs)
		}},
		{"gc_removes_exactly_expired_proofs", func(t *testing.T, s storage.Storage) {
			ctx := t.Context()
			now := t0
			for i, expiresAt := range []time.Time{now.Add(-time.Hour), now.Add(-time.Microsecond), now, now.Add(time.Minute)} {
				must(t, s.UseDPoPProof(ctx, "jkt", fmt.Sprintf("jti-%d", i), expiresAt), "UseDPoPProof")
			}
			got, err := s.GarbageCollect(ctx, now)
			must(t, err, "GarbageCollect")
			if want := (storage.GCResult{DPoPProofs: 2}); got != want {
				t.Errorf("GarbageCollect counted %+v, want %+v", got, want)
			}
			// The collected proofs can be recorded again; the others are still used.
			for i, want := range []error{nil, nil, storage.ErrConflict, storage.ErrConflict} {
				err := s.UseDPoPProof(ctx, "jkt", fmt.Sprintf("jti-%d", i), now.Add(time.Minute))
				if want == nil {
					must(t, err, fmt.Sprintf("UseDPoPProof jti-%d after GC", i))
				} else {
					mustBe(t, err, want, fmt.Sprintf("UseDPoPProof jti-%d after GC", i))
				}
			}
		}},
		{"use_inside_rolled_back_transaction_is_undone", func(t *testing.T, s storage.Storage) {
			tx, err := s.BeginTX(t.Context())
			must(t, err, "BeginTX")
			must(t, s.UseDPoPProof(tx, "jkt", "jti", t0), "UseDPoPProof inside")
			must(t, s.Rollback(tx), "Rollback")
			must(t, s.UseDPoPProof(t.Context(), "jkt", "jti", t0), "UseDPoPProof after the rollback")
		}},
	}
}
