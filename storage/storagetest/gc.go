package storagetest

import (
	"slices"
	"testing"
	"time"

	"github.com/qrid/qrid/storage"
)

func garbageCollectionScenarios() []scenario {
	return []scenario{
		{"removes_exactly_expired_rows", func(t *testing.T, s storage.Storage) {
			ctx := t.Context()
			now := t0
			mustCreateOwners(t, s, []string{"c1"}, []string{"u1"})
			tokenExpiring := func(signature string, expiresAt time.Time, active bool) {
				ts := sampleTokenSession(storage.KindAccessToken, signature, "r-"+signature, "c1", "u1")
				ts.CreatedAt = now.Add(-2 * time.Hour)
				ts.ExpiresAt, ts.Active = expiresAt, active
				mustCreateTokenSession(t, s, ts)
			}
			tokenExpiring("expired", now.Add(-time.Microsecond), true)
			tokenExpiring("expired-inactive", now.Add(-time.Hour), false)
			tokenExpiring("expires-now", now, true)
			tokenExpiring("expires-later", now.Add(time.Hour), true)
			browserExpiring := func(id string, expiresAt time.Time) {
				bs := sampleBrowserSession(id, "u1")
				bs.CreatedAt, bs.AuthTime = now.Add(-2*time.Hour), now.Add(-2*time.Hour)
				bs.ExpiresAt = expiresAt
				must(t, s.CreateBrowserSession(ctx, bs), "CreateBrowserSession "+id)
			}
			browserExpiring("expired", now.Add(-time.Second))
			browserExpiring("expires-now", now)
			browserExpiring("expires-later", now.Add(time.Hour))
			// ES256: k1 retired and past its ExpiresAt, k2 retired but still
			// published, k3 active. RS256: r1 retired until exactly now, r2 active.
			must(t, s.CreateSigningKey(ctx, sampleSigningKey("k1", "ES256", now.Add(-72*time.Hour))), "CreateSigningKey k1")
			must(t, s.RotateSigningKey(ctx, sampleSigningKey("k2", "ES256", now.Add(-48*time.Hour)), now.Add(-48*time.Hour), now.Add(-time.Microsecond)), "RotateSigningKey k2")
			must(t, s.RotateSigningKey(ctx, sampleSigningKey("k3", "ES256", now.Add(-24*time.Hour)), now.Add(-24*time.Hour), now.Add(time.Hour)), "RotateSigningKey k3")
			must(t, s.CreateSigningKey(ctx, sampleSigningKey("r1", "RS256", now.Add(-72*time.Hour))), "CreateSigningKey r1")
			must(t, s.RotateSigningKey(ctx, sampleSigningKey("r2", "RS256", now.Add(-48*time.Hour)), now.Add(-48*time.Hour), now), "RotateSigningKey r2")

			got, err := s.GarbageCollect(ctx, now)
			must(t, err, "GarbageCollect")
			if want := (storage.GCResult{TokenSessions: 2, BrowserSessions: 1, SigningKeys: 1}); got != want {
				t.Errorf("GarbageCollect counted %+v, want %+v", got, want)
			}

			assertTokenSessionGone(t, s, storage.KindAccessToken, "expired")
			assertTokenSessionGone(t, s, storage.KindAccessToken, "expired-inactive")
			assertTokenSessionKept(t, s, storage.KindAccessToken, "expires-now")
			assertTokenSessionKept(t, s, storage.KindAccessToken, "expires-later")
			_, err = s.GetBrowserSession(ctx, "expired")
			mustBe(t, err, storage.ErrNotFound, "GetBrowserSession expired")
			for _, id := range []string{"expires-now", "expires-later"} {
				_, err = s.GetBrowserSession(ctx, id)
				must(t, err, "GetBrowserSession "+id)
			}
			keys, err := s.ListSigningKeys(ctx)
			must(t, err, "ListSigningKeys")
			var ids []string
			for _, k := range keys {
				ids = append(ids, k.ID)
			}
			slices.Sort(ids)
			if want := []string{"k2", "k3", "r1", "r2"}; !slices.Equal(ids, want) {
				t.Errorf("signing keys after GarbageCollect: got %v, want %v", ids, want)
			}

			again, err := s.GarbageCollect(ctx, now)
			must(t, err, "GarbageCollect again")
			if again != (storage.GCResult{}) {
				t.Errorf("a second GarbageCollect at the same instant counted %+v, want nothing", again)
			}
		}},
		{"empty_store_removes_nothing", func(t *testing.T, s storage.Storage) {
			got, err := s.GarbageCollect(t.Context(), t0)
			must(t, err, "GarbageCollect")
			if got != (storage.GCResult{}) {
				t.Errorf("GarbageCollect on an empty store counted %+v", got)
			}
		}},
	}
}
