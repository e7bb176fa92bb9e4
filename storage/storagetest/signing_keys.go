package storagetest

import (
	"slices"
	"testing"
	"time"

	"github.com/qrid/qrid/storage"
)

func signingKeyScenarios() []scenario {
	return []scenario{
		{"create_then_list", func(t *testing.T, s storage.Storage) {
			want := sampleSigningKey("k1", "ES256", t0)
			must(t, s.CreateSigningKey(t.Context(), want), "CreateSigningKey")
			got, err := s.ListSigningKeys(t.Context())
			must(t, err, "ListSigningKeys")
			assertSameList(t, "ListSigningKeys", []storage.SigningKey{want}, got)
			if !got[0].Active() {
				t.Error("a created key is not active")
			}
		}},
		{"create_second_active_key_of_algorithm_conflicts", func(t *testing.T, s storage.Storage) {
			first := sampleSigningKey("k1", "ES256", t0)
			must(t, s.CreateSigningKey(t.Context(), first), "CreateSigningKey k1")
			mustBe(t, s.CreateSigningKey(t.Context(), sampleSigningKey("k2", "ES256", t0.Add(time.Second))), storage.ErrConflict, "CreateSigningKey k2")
			got, err := s.ListSigningKeys(t.Context())
			must(t, err, "ListSigningKeys")
			assertSameList(t, "ListSigningKeys", []storage.SigningKey{first}, got)
		}},
		{"create_active_keys_of_different_algorithms", func(t *testing.T, s storage.Storage) {
			es := sampleSigningKey("es", "ES256", t0)
			rs := sampleSigningKey("rs", "RS256", t0.Add(time.Second))
			must(t, s.CreateSigningKey(t.Context(), es), "CreateSigningKey ES256")
			must(t, s.CreateSigningKey(t.Context(), rs), "CreateSigningKey RS256")
			got, err := s.ListSigningKeys(t.Context())
			must(t, err, "ListSigningKeys")
			assertSameList(t, "ListSigningKeys", []storage.SigningKey{rs, es}, got)
		}},
		{"create_duplicate_id_conflicts", func(t *testing.T, s storage.Storage) {
			first := sampleSigningKey("k1", "ES256", t0)
			must(t, s.CreateSigningKey(t.Context(), first), "CreateSigningKey ES256")
			mustBe(t, s.CreateSigningKey(t.Context(), sampleSigningKey("k1", "RS256", t0)), storage.ErrConflict, "CreateSigningKey RS256 same ID")
			got, err := s.ListSigningKeys(t.Context())
			must(t, err, "ListSigningKeys")
			assertSameList(t, "ListSigningKeys", []storage.SigningKey{first}, got)
		}},
		{"list_empty", func(t *testing.T, s storage.Storage) {
			got, err := s.ListSigningKeys(t.Context())
			must(t, err, "ListSigningKeys")
			if len(got) != 0 {
				t.Fatalf("ListSigningKeys on an empty store returned %d keys", len(got))
			}
		}},
		{"list_newest_first", func(t *testing.T, s storage.Storage) {
			ctx := t.Context()
			k1 := sampleSigningKey("k1", "ES256", t0)
			r1 := sampleSigningKey("r1", "RS256", t0.Add(30*time.Minute))
			k2 := sampleSigningKey("k2", "ES256", t0.Add(time.Hour))
			k3 := sampleSigningKey("k3", "ES256", t0.Add(2*time.Hour))
			must(t, s.CreateSigningKey(ctx, k1), "CreateSigningKey k1")
			must(t, s.RotateSigningKey(ctx, k3, k3.CreatedAt, k3.CreatedAt.Add(time.Hour)), "RotateSigningKey k3")
			must(t, s.RotateSigningKey(ctx, k2, k2.CreatedAt, k2.CreatedAt.Add(time.Hour)), "RotateSigningKey k2")
			must(t, s.CreateSigningKey(ctx, r1), "CreateSigningKey r1")
			got, err := s.ListSigningKeys(ctx)
			must(t, err, "ListSigningKeys")
			ids := make([]string, len(got))
			for i, k := range got {
				ids[i] = k.ID
			}
			if want := []string{"k3", "k2", "r1", "k1"}; !slices.Equal(ids, want) {
				t.Fatalf("ListSigningKeys order: got %v, want %v", ids, want)
			}
		}},
		{"rotate_retires_active_key", func(t *testing.T, s storage.Storage) {
			ctx := t.Context()
			old := sampleSigningKey("k1", "ES256", t0)
			rs := sampleSigningKey("r1", "RS256", t0.Add(-time.Hour))
			next := sampleSigningKey("k2", "ES256", t0.Add(24*time.Hour))
			now, keepUntil := t0.Add(25*time.Hour), t0.Add(26*time.Hour)
			must(t, s.CreateSigningKey(ctx, old), "CreateSigningKey k1")
			must(t, s.CreateSigningKey(ctx, rs), "CreateSigningKey r1")

			must(t, s.RotateSigningKey(ctx, next, now, keepUntil), "RotateSigningKey")

			retired := old
			retired.RetiredAt, retired.ExpiresAt = now, keepUntil
			got, err := s.ListSigningKeys(ctx)
			must(t, err, "ListSigningKeys")
			assertSameList(t, "ListSigningKeys", []storage.SigningKey{next, retired, rs}, got)
			for _, k := range got {
				if wantActive := k.ID != "k1"; k.Active() != wantActive {
					t.Errorf("key %s: Active() = %v, want %v", k.ID, k.Active(), wantActive)
				}
			}
		}},
		{"rotate_without_active_key_stores_next", func(t *testing.T, s storage.Storage) {
			next := sampleSigningKey("k1", "ES256", t0)
			must(t, s.RotateSigningKey(t.Context(), next, t0, t0.Add(time.Hour)), "RotateSigningKey")
			got, err := s.ListSigningKeys(t.Context())
			must(t, err, "ListSigningKeys")
			assertSameList(t, "ListSigningKeys", []storage.SigningKey{next}, got)
		}},
		{"rotate_to_stored_id_conflicts_and_changes_nothing", func(t *testing.T, s storage.Storage) {
			ctx := t.Context()
			k1 := sampleSigningKey("k1", "ES256", t0)
			k2 := sampleSigningKey("k2", "ES256", t0.Add(time.Hour))
			must(t, s.CreateSigningKey(ctx, k1), "CreateSigningKey k1")
			must(t, s.RotateSigningKey(ctx, k2, k2.CreatedAt, k2.CreatedAt.Add(time.Hour)), "RotateSigningKey k2")
			before, err := s.ListSigningKeys(ctx)
			must(t, err, "ListSigningKeys before")

			for _, id := range []string{"k1", "k2"} {
				reused := sampleSigningKey(id, "ES256", t0.Add(2*time.Hour))
				mustBe(t, s.RotateSigningKey(ctx, reused, t0.Add(2*time.Hour), t0.Add(3*time.Hour)), storage.ErrConflict, "RotateSigningKey to "+id)
			}

			after, err := s.ListSigningKeys(ctx)
			must(t, err, "ListSigningKeys after")
			assertSameList(t, "ListSigningKeys", before, after)
		}},
		{"create_after_rotate_conflicts", func(t *testing.T, s storage.Storage) {
			ctx := t.Context()
			must(t, s.RotateSigningKey(ctx, sampleSigningKey("k1", "ES256", t0), t0, t0), "RotateSigningKey")
			mustBe(t, s.CreateSigningKey(ctx, sampleSigningKey("k2", "ES256", t0)), storage.ErrConflict, "CreateSigningKey")
		}},
		{"stored_values_are_copies", func(t *testing.T, s storage.Storage) {
			given := sampleSigningKey("k1", "ES256", t0)
			must(t, s.CreateSigningKey(t.Context(), given), "CreateSigningKey")
			given.PrivateKeySealed[0] = 'X'
			given.PublicKeyJWK[0] = 'X'
			got, err := s.ListSigningKeys(t.Context())
			must(t, err, "ListSigningKeys")
			got[0].PrivateKeySealed[1] = 'Y'
			again, err := s.ListSigningKeys(t.Context())
			must(t, err, "ListSigningKeys again")
			assertSameList(t, "ListSigningKeys", []storage.SigningKey{sampleSigningKey("k1", "ES256", t0)}, again)
		}},
	}
}
