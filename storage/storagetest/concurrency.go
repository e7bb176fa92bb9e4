package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/qrid/qrid/storage"
)

// contenders is how many goroutines race for each conditional change.
const contenders = 50

// runTogether calls fn(i) for i in [0, n) from n goroutines released at once, and
// returns what each call returned.
func runTogether(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// tally splits results into the indexes that succeeded and the errors other than
// ErrConflict.
func tally(errs []error) (winners []int, conflicts int, unexpected []error) {
	for i, err := range errs {
		switch {
		case err == nil:
			winners = append(winners, i)
		case errors.Is(err, storage.ErrConflict):
			conflicts++
		default:
			unexpected = append(unexpected, err)
		}
	}
	return winners, conflicts, unexpected
}

// assertOneWinner fails t unless exactly one call succeeded and every other call
// lost with ErrConflict; it returns the winner's index.
func assertOneWinner(t *testing.T, what string, errs []error) int {
	t.Helper()
	winners, conflicts, unexpected := tally(errs)
	if len(unexpected) > 0 {
		t.Fatalf("%s: unexpected errors: %v", what, unexpected)
	}
	if len(winners) != 1 || conflicts != len(errs)-1 {
		t.Fatalf("%s: %d succeeded and %d conflicted, want exactly 1 and %d", what, len(winners), conflicts, len(errs)-1)
	}
	return winners[0]
}

func concurrencyScenarios() []scenario {
	return []scenario{
		{"deactivate_token_session_exactly_one_wins", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			mustCreateTokenSession(t, s, sampleTokenSession(storage.KindAuthorizeCode, "code", "r1", "c1", "u1"))
			errs := runTogether(contenders, func(int) error {
				return s.DeactivateTokenSession(t.Context(), storage.KindAuthorizeCode, "code")
			})
			assertOneWinner(t, "DeactivateTokenSession", errs)
			got, err := s.GetTokenSession(t.Context(), storage.KindAuthorizeCode, "code")
			must(t, err, "GetTokenSession")
			if got.Active {
				t.Error("the session is still active")
			}
		}},
		{"update_client_loses_no_update", func(t *testing.T, s storage.Storage) {
			mustCreateClient(t, s, sampleClient("c1"))
			errs := runTogether(contenders, func(i int) error {
				_, err := s.UpdateClient(t.Context(), "c1", func(old storage.Client) (storage.Client, error) {
					old.RedirectURIs = append(old.RedirectURIs, redirectURIOf(i))
					return old, nil
				})
				return err
			})
			for i, err := range errs {
				must(t, err, fmt.Sprintf("UpdateClient %d", i))
			}
			got, err := s.GetClient(t.Context(), "c1")
			must(t, err, "GetClient")
			original := sampleClient("c1").RedirectURIs
			if len(got.RedirectURIs) != len(original)+contenders {
				t.Errorf("the client has %d redirect URIs, want %d", len(got.RedirectURIs), len(original)+contenders)
			}
			for _, uri := range original {
				if !slices.Contains(got.RedirectURIs, uri) {
					t.Errorf("the original redirect URI %s was lost", uri)
				}
			}
			for i := range contenders {
				if !slices.Contains(got.RedirectURIs, redirectURIOf(i)) {
					t.Errorf("the update of goroutine %d was lost", i)
				}
			}
		}},
		{"create_signing_key_exactly_one_wins", func(t *testing.T, s storage.Storage) {
			errs := runTogether(contenders, func(i int) error {
				return s.CreateSigningKey(t.Context(), sampleSigningKey(fmt.Sprintf("k%d", i), "ES256", t0))
			})
			winner := assertOneWinner(t, "CreateSigningKey", errs)
			keys, err := s.ListSigningKeys(t.Context())
			must(t, err, "ListSigningKeys")
			assertSameList(t, "ListSigningKeys", []storage.SigningKey{sampleSigningKey(fmt.Sprintf("k%d", winner), "ES256", t0)}, keys)
		}},
		{"rotate_signing_key_leaves_one_active_key", func(t *testing.T, s storage.Storage) {
			must(t, s.CreateSigningKey(t.Context(), sampleSigningKey("initial", "ES256", t0)), "CreateSigningKey")
			must(t, s.CreateSigningKey(t.Context(), sampleSigningKey("rs", "RS256", t0)), "CreateSigningKey RS256")
			now, keepUntil := t0.Add(time.Hour), t0.Add(2*time.Hour)
			errs := runTogether(contenders, func(i int) error {
				return s.RotateSigningKey(t.Context(), sampleSigningKey(fmt.Sprintf("k%d", i), "ES256", now), now, keepUntil)
			})
			// A rotation may lose to a concurrent one, but only with ErrConflict.
			winners, _, unexpected := tally(errs)
			if len(unexpected) > 0 {
				t.Fatalf("RotateSigningKey: unexpected errors: %v", unexpected)
			}
			if len(winners) == 0 {
				t.Fatal("no RotateSigningKey succeeded")
			}
			stored := map[string]bool{"initial": true, "rs": true}
			for _, i := range winners {
				stored[fmt.Sprintf("k%d", i)] = true
			}
			keys, err := s.ListSigningKeys(t.Context())
			must(t, err, "ListSigningKeys")
			if len(keys) != len(stored) {
				t.Errorf("%d keys stored, want the initial keys and the %d that rotated successfully", len(keys), len(winners))
			}
			var activeES256 []string
			for _, k := range keys {
				if !stored[k.ID] {
					t.Errorf("key %s is stored but its rotation failed", k.ID)
				}
				switch {
				case k.Algorithm == "RS256":
					if !k.Active() {
						t.Error("the RS256 key was retired by an ES256 rotation")
					}
				case k.Active():
					activeES256 = append(activeES256, k.ID)
				case !k.RetiredAt.Equal(now) || !k.ExpiresAt.Equal(keepUntil):
					t.Errorf("key %s retired with RetiredAt %v and ExpiresAt %v, want %v and %v", k.ID, k.RetiredAt, k.ExpiresAt, now, keepUntil)
				}
			}
			if len(activeES256) != 1 {
				t.Errorf("active ES256 keys: %v, want exactly one", activeES256)
			}
		}},
		{"refresh_rotation_in_transactions_exactly_one_wins", func(t *testing.T, s storage.Storage) {
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			mustCreateTokenSession(t, s, sampleTokenSession(storage.KindRefreshToken, "old", "chain", "c1", "u1"))
			// Each goroutine does what a refresh grant does: read the refresh token,
			// issue an access token, retire the refresh token, issue its successor.
			errs := runTogether(contenders, func(i int) error {
				tx, err := s.BeginTX(t.Context())
				if err != nil {
					return fmt.Errorf("BeginTX: %w", err)
				}
				if err := rotateRefreshToken(s, tx, i); err != nil {
					if rbErr := s.Rollback(tx); rbErr != nil {
						return fmt.Errorf("%w (and Rollback: %v)", err, rbErr)
					}
					return err
				}
				return s.Commit(tx)
			})
			winner := assertOneWinner(t, "refresh rotation", errs)

			old, err := s.GetTokenSession(t.Context(), storage.KindRefreshToken, "old")
			must(t, err, "GetTokenSession old")
			if old.Active {
				t.Error("the rotated refresh token is still active")
			}
			for i := range contenders {
				check := assertTokenSessionGone
				if i == winner {
					check = assertTokenSessionKept
				}
				check(t, s, storage.KindAccessToken, fmt.Sprintf("access-%d", i))
				check(t, s, storage.KindRefreshToken, fmt.Sprintf("refresh-%d", i))
			}
		}},
	}
}

func redirectURIOf(i int) string { return fmt.Sprintf("https://c1.example/cb/%d", i) }

// rotateRefreshToken is the storage side of a refresh grant, run with the
// transaction's context: the loser of a race must end with ErrConflict.
func rotateRefreshToken(s storage.Storage, tx context.Context, i int) error {
	old, err := s.GetTokenSession(tx, storage.KindRefreshToken, "old")
	if err != nil {
		return err
	}
	if !old.Active {
		return fmt.Errorf("refresh token already used: %w", storage.ErrConflict)
	}
	access := sampleTokenSession(storage.KindAccessToken, fmt.Sprintf("access-%d", i), "chain", "c1", "u1")
	if err := s.CreateTokenSession(tx, access); err != nil {
		return err
	}
	if err := s.DeactivateTokenSession(tx, storage.KindRefreshToken, "old"); err != nil {
		return err
	}
	return s.CreateTokenSession(tx, sampleTokenSession(storage.KindRefreshToken, fmt.Sprintf("refresh-%d", i), "chain", "c1", "u1"))
}
