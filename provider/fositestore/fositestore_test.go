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

// countingClients is a Clients source that counts its lookups.
type countingClients struct {
	store storage.Storage
	gets  int
}

func (c *countingClients) Get(ctx context.Context, id string) (storage.Client, error) {
	c.gets++
	return c.store.GetClient(ctx, id)
}

func TestGetClientThroughClients(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	mem := memory.New()
	if err := mem.CreateClient(ctx, storage.Client{ID: "web", Name: "Web", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	s := New(mem, func() fosite.Session { return &openid.DefaultSession{} }, time.Hour)
	clients := &countingClients{store: mem}
	s.Clients = clients

	c, err := s.GetClient(ctx, "web")
	if err != nil || c.(*Client).Name != "Web" {
		t.Fatalf("GetClient = %v, %v", c, err)
	}
	if _, err := s.GetClient(ctx, "ghost"); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("unknown client: err = %v, want ErrNotFound", err)
	}
	if clients.gets != 2 {
		t.Fatalf("Clients saw %d lookups, want 2", clients.gets)
	}

	// Inside a transaction the client is read through it: the memory store's
	// transaction holds its lock, so a read made elsewhere would wait forever.
	txCtx, err := s.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.GetClient(txCtx, "web"); err != nil || c.GetID() != "web" {
		t.Fatalf("GetClient in a transaction = %v, %v", c, err)
	}
	if clients.gets != 2 {
		t.Fatalf("a read inside a transaction went to Clients (%d lookups)", clients.gets)
	}
	if err := s.Commit(txCtx); err != nil {
		t.Fatalf("commit through the marked context: %v", err)
	}
	if _, err := s.GetClient(ctx, "web"); err != nil || clients.gets != 3 {
		t.Fatalf("after the transaction: err %v, %d lookups", err, clients.gets)
	}
}
