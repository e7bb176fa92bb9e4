package fositestore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
)

func TestRefreshTokenReuseHook(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	mem := memory.New()
	if err := mem.CreateClient(ctx, storage.Client{ID: "web", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	s := New(mem, func() fosite.Session { return &openid.DefaultSession{} }, time.Hour)
	type reuse struct{ clientID, subject, requestID string }
	var heard []reuse
	s.OnRefreshTokenReuse = func(_ context.Context, clientID, subject, requestID string) {
		heard = append(heard, reuse{clientID, subject, requestID})
	}
	req := &fosite.Request{ID: "req-1", RequestedAt: time.Now(), Client: &Client{Client: storage.Client{ID: "web"}},
		Session: &openid.DefaultSession{Subject: "alice"}}
	if err := s.CreateRefreshTokenSession(ctx, "sig-1", "", req); err != nil {
		t.Fatal(err)
	}

	if _, err := s.GetRefreshTokenSession(ctx, "sig-1", nil); err != nil {
		t.Fatalf("active token: %v", err)
	}
	if len(heard) != 0 {
		t.Fatalf("an active token was reported as reused: %+v", heard)
	}
	if err := s.RotateRefreshToken(ctx, "req-1", "sig-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRefreshTokenSession(ctx, "sig-1", nil); !errors.Is(err, fosite.ErrInactiveToken) {
		t.Fatalf("rotated token: err = %v, want ErrInactiveToken", err)
	}
	if want := []reuse{{"web", "alice", "req-1"}}; len(heard) != 1 || heard[0] != want[0] {
		t.Fatalf("heard %+v, want %+v", heard, want)
	}
	if _, err := s.GetRefreshTokenSession(ctx, "unknown", nil); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("unknown token: err = %v, want ErrNotFound", err)
	}
	if len(heard) != 1 {
		t.Fatalf("an unknown token was reported as reused: %+v", heard)
	}
}
