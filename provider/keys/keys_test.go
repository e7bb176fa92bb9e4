package keys_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/qrid/qrid/provider/keys"
	"github.com/qrid/qrid/storage"
)

// fakeStore is a minimal storage.SigningKeyStore with the contract's conflict rule:
// at most one active key per algorithm.
type fakeStore struct {
	mu    sync.Mutex
	rows  []storage.SigningKey // in insertion order
	lists int                  // ListSigningKeys calls
	// failList, when set, is returned by ListSigningKeys.
	failList error
	// beforeCreate, when set, runs (once, without the lock) before the next
	// CreateSigningKey.
	beforeCreate func()
	// beforeList, when set, runs (once, without the lock) before the next
	// ListSigningKeys.
	beforeList func()
}

func cloneRow(k storage.SigningKey) storage.SigningKey {
	k.PrivateKeySealed = bytes.Clone(k.PrivateKeySealed)
	k.PublicKeyJWK = bytes.Clone(k.PublicKeyJWK)
	return k
}

func (s *fakeStore) CreateSigningKey(_ context.Context, k storage.SigningKey) error {
	s.mu.Lock()
	hook := s.beforeCreate
	s.beforeCreate = nil
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rows {
		if r.ID == k.ID || (r.Algorithm == k.Algorithm && r.Active()) {
			return storage.ErrConflict
		}
	}
	s.rows = append(s.rows, cloneRow(k))
	return nil
}

func (s *fakeStore) ListSigningKeys(context.Context) ([]storage.SigningKey, error) {
	s.mu.Lock()
	hook := s.beforeList
	s.beforeList = nil
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists++
	if s.failList != nil {
		return nil, s.failList
	}
	out := make([]storage.SigningKey, 0, len(s.rows))
	for i := len(s.rows) - 1; i >= 0; i-- {
		out = append(out, cloneRow(s.rows[i]))
	}
	slices.SortStableFunc(out, func(a, b storage.SigningKey) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}

func (s *fakeStore) RotateSigningKey(_ context.Context, next storage.SigningKey, now, keepUntil time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rows {
		if r.ID == next.ID {
			return storage.ErrConflict
		}
	}
	for i := range s.rows {
		if r := &s.rows[i]; r.Algorithm == next.Algorithm && r.Active() {
			r.RetiredAt, r.ExpiresAt = now, keepUntil
		}
	}
	s.rows = append(s.rows, cloneRow(next))
	return nil
}

func (s *fakeStore) snapshot() []storage.SigningKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]storage.SigningKey, len(s.rows))
	for i, r := range s.rows {
		out[i] = cloneRow(r)
	}
	return out
}

func (s *fakeStore) row(t *testing.T, kid string) storage.SigningKey {
	t.Helper()
	for _, r := range s.snapshot() {
		if r.ID == kid {
			return r
		}
	}
	t.Fatalf("no stored key %s", kid)
	return storage.SigningKey{}
}

func (s *fakeStore) update(kid string, f func(*storage.SigningKey)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.rows {
		if s.rows[i].ID == kid {
			f(&s.rows[i])
		}
	}
}

func (s *fakeStore) listCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lists
}

// clock is a settable clock shared by the managers of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	retainFor = time.Hour
	cacheFor  = 30 * time.Second
)

var (
	secret      = []byte("0123456789abcdef0123456789abcdef")
	otherSecret = []byte("fedcba9876543210fedcba9876543210")
)

func newManager(t testing.TB, store storage.SigningKeyStore, c *clock, systemSecret []byte) *keys.Manager {
	t.Helper()
	m, err := keys.NewManager(store, systemSecret, keys.Options{
		Now:       c.Now,
		RetainFor: retainFor,
		CacheFor:  cacheFor,
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	return m
}

func initManager(t testing.TB, store storage.SigningKeyStore, c *clock) *keys.Manager {
	t.Helper()
	m := newManager(t, store, c, secret)
	if err := m.Init(context.Background()); err != nil {
		t.Fatalf("Init: %v", err)
	}
	return m
}

func signingKey(t *testing.T, m *keys.Manager, alg string) keys.Key {
	t.Helper()
	k, err := m.SigningKey(context.Background(), alg)
	if err != nil {
		t.Fatalf("SigningKey(%s): %v", alg, err)
	}
	return k
}

func jwksKIDs(t *testing.T, m *keys.Manager) []string {
	t.Helper()
	set, err := m.JWKS(context.Background())
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	slices.Sort(kids)
	return kids
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

// sign makes a compact JWS with k, as the token path would.
func sign(t *testing.T, k keys.Key, payload string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.SignatureAlgorithm(k.Algorithm),
		Key:       jose.JSONWebKey{Key: k.Private, KeyID: k.ID},
	}, nil)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	jws, err := signer.Sign([]byte(payload))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	compact, err := jws.CompactSerialize()
	if err != nil {
		t.Fatalf("CompactSerialize: %v", err)
	}
	return compact
}

// verifyWithJWKS verifies token against the key its kid selects in m's JWKS, as a
// relying party would.
func verifyWithJWKS(t *testing.T, m *keys.Manager, token, payload string) {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		t.Fatalf("ParseSignedCompact: %v", err)
	}
	header := jws.Signatures[0].Header
	set, err := m.JWKS(context.Background())
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	found := set.Key(header.KeyID)
	if len(found) != 1 {
		t.Fatalf("JWKS has %d keys with kid %s, want 1", len(found), header.KeyID)
	}
	if found[0].Algorithm != header.Algorithm {
		t.Errorf("JWKS alg %q, token alg %q", found[0].Algorithm, header.Algorithm)
	}
	got, err := jws.Verify(found[0])
	if err != nil {
		t.Fatalf("Verify with the JWKS key: %v", err)
	}
	if string(got) != payload {
		t.Errorf("payload %q, want %q", got, payload)
	}
}

func TestNewManager(t *testing.T) {
	tests := []struct {
		name   string
		store  storage.SigningKeyStore
		secret []byte
		opts   keys.Options
		ok     bool
	}{
		{"ok", &fakeStore{}, secret, keys.Options{}, true},
		{"fail/short secret", &fakeStore{}, secret[:31], keys.Options{}, false},
		{"fail/no secret", &fakeStore{}, nil, keys.Options{}, false},
		{"fail/no store", nil, secret, keys.Options{}, false},
		{"fail/negative RetainFor", &fakeStore{}, secret, keys.Options{RetainFor: -time.Second}, false},
		{"fail/negative CacheFor", &fakeStore{}, secret, keys.Options{CacheFor: -time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := keys.NewManager(tt.store, tt.secret, tt.opts)
			if tt.ok && (err != nil || m == nil) {
				t.Fatalf("NewManager: %v", err)
			}
			if !tt.ok && err == nil {
				t.Fatal("NewManager succeeded, want an error")
			}
		})
	}
}

func TestInit(t *testing.T) {
	ctx := context.Background()
	store, c := &fakeStore{}, newClock()
	m := initManager(t, store, c)

	rows := store.snapshot()
	if len(rows) != 2 {
		t.Fatalf("Init stored %d keys, want 2", len(rows))
	}
	for _, alg := range []string{keys.ES256, keys.RS256} {
		k := signingKey(t, m, alg)
		if k.Algorithm != alg {
			t.Errorf("SigningKey(%s).Algorithm = %s", alg, k.Algorithm)
		}
		row := store.row(t, k.ID)
		if row.Algorithm != alg || !row.Active() || !row.CreatedAt.Equal(c.Now()) {
			t.Errorf("stored %s row: %+v", alg, row)
		}
		// The kid is the RFC 7638 thumbprint of the public key.
		pub := jose.JSONWebKey{Key: k.Private.Public()}
		thumb, err := pub.Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if want := base64.RawURLEncoding.EncodeToString(thumb); k.ID != want {
			t.Errorf("%s kid %s, want thumbprint %s", alg, k.ID, want)
		}
	}
	switch k := signingKey(t, m, keys.ES256).Private.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			t.Errorf("ES256 key on %s", k.Curve.Params().Name)
		}
	default:
		t.Errorf("ES256 key is a %T", k)
	}
	switch k := signingKey(t, m, keys.RS256).Private.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() != 2048 {
			t.Errorf("RS256 key has %d bits", k.N.BitLen())
		}
	default:
		t.Errorf("RS256 key is a %T", k)
	}

	t.Run("ok/second Init keeps the keys", func(t *testing.T) {
		if err := m.Init(ctx); err != nil {
			t.Fatal(err)
		}
		if got := len(store.snapshot()); got != 2 {
			t.Errorf("%d keys stored after a second Init, want 2", got)
		}
	})
	t.Run("ok/another node uses the same keys", func(t *testing.T) {
		other := initManager(t, store, c)
		if got := len(store.snapshot()); got != 2 {
			t.Errorf("%d keys stored after another node's Init, want 2", got)
		}
		for _, alg := range []string{keys.ES256, keys.RS256} {
			if a, b := signingKey(t, m, alg), signingKey(t, other, alg); a.ID != b.ID {
				t.Errorf("%s: nodes sign with %s and %s", alg, a.ID, b.ID)
			}
		}
		// A token signed on one node verifies with the other node's JWKS.
		token := sign(t, signingKey(t, m, keys.ES256), "cross-node")
		verifyWithJWKS(t, other, token, "cross-node")
	})
}

func TestInitConcurrent(t *testing.T) {
	store, c := &fakeStore{}, newClock()
	const nodes = 4
	managers := make([]*keys.Manager, nodes)
	for i := range managers {
		managers[i] = newManager(t, store, c, secret)
	}
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i, m := range managers {
		wg.Go(func() { errs[i] = m.Init(context.Background()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d Init: %v", i, err)
		}
	}
	rows := store.snapshot()
	perAlg := map[string]int{}
	for _, r := range rows {
		perAlg[r.Algorithm]++
	}
	if len(rows) != 2 || perAlg[keys.ES256] != 1 || perAlg[keys.RS256] != 1 {
		t.Fatalf("stored keys per algorithm: %v, want one each", perAlg)
	}
	for _, alg := range []string{keys.ES256, keys.RS256} {
		want := signingKey(t, managers[0], alg).ID
		for i, m := range managers[1:] {
			if got := signingKey(t, m, alg).ID; got != want {
				t.Errorf("node %d signs %s with %s, node 0 with %s", i+1, alg, got, want)
			}
		}
	}
}

// TestInitLosesRace has another node create the keys between this node's read and
// its create, so that this node's create fails with ErrConflict.
func TestInitLosesRace(t *testing.T) {
	store, c := &fakeStore{}, newClock()
	var winner *keys.Manager
	store.beforeCreate = func() { winner = initManager(t, store, c) }
	loser := newManager(t, store, c, secret)
	if err := loser.Init(context.Background()); err != nil {
		t.Fatalf("Init after losing the race: %v", err)
	}
	if winner == nil {
		t.Fatal("the other node never ran")
	}
	if got := len(store.snapshot()); got != 2 {
		t.Fatalf("%d keys stored, want 2", got)
	}
	for _, alg := range []string{keys.ES256, keys.RS256} {
		if a, b := signingKey(t, loser, alg), signingKey(t, winner, alg); a.ID != b.ID {
			t.Errorf("%s: loser signs with %s, winner with %s", alg, a.ID, b.ID)
		}
	}
}

func TestSignAndVerifyWithJWKS(t *testing.T) {
	m := initManager(t, &fakeStore{}, newClock())
	for _, alg := range []string{keys.ES256, keys.RS256} {
		t.Run(alg, func(t *testing.T) {
			token := sign(t, signingKey(t, m, alg), `{"sub":"alice"}`)
			verifyWithJWKS(t, m, token, `{"sub":"alice"}`)
		})
	}

	set, err := m.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want 2: %s", len(doc.Keys), raw)
	}
	for _, k := range doc.Keys {
		if k["use"] != "sig" || k["kid"] == "" || (k["alg"] != "ES256" && k["alg"] != "RS256") {
			t.Errorf("JWKS entry lacks use/kid/alg: %v", k)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				t.Errorf("JWKS entry %v publishes private member %q", k["kid"], private)
			}
		}
	}
}

func TestRotate(t *testing.T) {
	ctx := context.Background()
	store, c := &fakeStore{}, newClock()
	m := initManager(t, store, c)
	oldES, oldRS := signingKey(t, m, keys.ES256), signingKey(t, m, keys.RS256)
	oldToken := sign(t, oldES, "signed before rotation")

	c.Advance(time.Minute)
	rotatedAt := c.Now()
	if err := m.Rotate(ctx, keys.ES256); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	newES := signingKey(t, m, keys.ES256)
	if newES.ID == oldES.ID {
		t.Fatal("Rotate did not change the ES256 key on this node")
	}
	if got := signingKey(t, m, keys.RS256); got.ID != oldRS.ID {
		t.Errorf("Rotate(ES256) changed the RS256 key")
	}
	row := store.row(t, oldES.ID)
	wantExpiry := rotatedAt.Add(retainFor + cacheFor)
	if !row.RetiredAt.Equal(rotatedAt) || !row.ExpiresAt.Equal(wantExpiry) {
		t.Errorf("retired row: RetiredAt %v ExpiresAt %v, want %v and %v", row.RetiredAt, row.ExpiresAt, rotatedAt, wantExpiry)
	}

	if got, want := jwksKIDs(t, m), sorted(oldES.ID, newES.ID, oldRS.ID); !slices.Equal(got, want) {
		t.Errorf("JWKS after rotation: %v, want %v", got, want)
	}
	verifyWithJWKS(t, m, oldToken, "signed before rotation")
	verifyWithJWKS(t, m, sign(t, newES, "after"), "after")
	pub, err := m.PublicKey(ctx, oldES.ID)
	if err != nil {
		t.Fatalf("PublicKey(retired kid): %v", err)
	}
	if !oldES.Private.Public().(*ecdsa.PublicKey).Equal(pub) {
		t.Error("PublicKey(retired kid) is not the retired key")
	}

	// Just before ExpiresAt the retired key is still published ...
	c.Advance(wantExpiry.Sub(c.Now()) - time.Second)
	if got := jwksKIDs(t, m); !slices.Contains(got, oldES.ID) {
		t.Errorf("retired key left the JWKS a second before it expires: %v", got)
	}
	// ... and once the clock passes it, it is gone.
	c.Advance(time.Second)
	if got, want := jwksKIDs(t, m), sorted(newES.ID, oldRS.ID); !slices.Equal(got, want) {
		t.Errorf("JWKS after expiry: %v, want %v", got, want)
	}
	if _, err := m.PublicKey(ctx, oldES.ID); !errors.Is(err, keys.ErrUnknownKey) {
		t.Errorf("PublicKey(expired kid) = %v, want ErrUnknownKey", err)
	}
	if _, err := m.PublicKey(ctx, newES.ID); err != nil {
		t.Errorf("PublicKey(active kid): %v", err)
	}

	t.Run("ok/both algorithms", func(t *testing.T) {
		if err := m.Rotate(ctx, ""); err != nil {
			t.Fatal(err)
		}
		if signingKey(t, m, keys.ES256).ID == newES.ID || signingKey(t, m, keys.RS256).ID == oldRS.ID {
			t.Error(`Rotate("") did not change both keys`)
		}
		active := 0
		for _, r := range store.snapshot() {
			if r.Active() {
				active++
			}
		}
		if active != 2 {
			t.Errorf("%d active keys stored, want 2", active)
		}
	})
	t.Run("fail/unsupported algorithm", func(t *testing.T) {
		before := len(store.snapshot())
		if err := m.Rotate(ctx, "HS256"); !errors.Is(err, keys.ErrUnsupportedAlgorithm) {
			t.Errorf("Rotate(HS256) = %v, want ErrUnsupportedAlgorithm", err)
		}
		if len(store.snapshot()) != before {
			t.Error("Rotate(HS256) stored a key")
		}
	})
}

func TestRotationReachesOtherNodes(t *testing.T) {
	ctx := context.Background()
	store, c := &fakeStore{}, newClock()
	a := initManager(t, store, c)

	t.Run("ok/signing key after CacheFor", func(t *testing.T) {
		b := initManager(t, store, c)
		before := signingKey(t, b, keys.ES256)
		if err := a.Rotate(ctx, keys.ES256); err != nil {
			t.Fatal(err)
		}
		rotated := signingKey(t, a, keys.ES256)
		reads := store.listCalls()
		c.Advance(cacheFor - time.Second)
		if got := signingKey(t, b, keys.ES256); got.ID != before.ID {
			t.Errorf("node b switched keys before its cache period ended")
		}
		if store.listCalls() != reads {
			t.Errorf("node b read the store within its cache period")
		}
		c.Advance(time.Second)
		if got := signingKey(t, b, keys.ES256); got.ID != rotated.ID {
			t.Errorf("node b signs with %s after its cache period, want %s", got.ID, rotated.ID)
		}
	})

	t.Run("ok/JWKS within seconds", func(t *testing.T) {
		b := initManager(t, store, c)
		jwksKIDs(t, b) // warm the cache
		if err := a.Rotate(ctx, keys.ES256); err != nil {
			t.Fatal(err)
		}
		rotated := signingKey(t, a, keys.ES256)
		c.Advance(4 * time.Second)
		if slices.Contains(jwksKIDs(t, b), rotated.ID) {
			t.Fatal("node b's JWKS was re-read before 5s")
		}
		c.Advance(time.Second)
		if !slices.Contains(jwksKIDs(t, b), rotated.ID) {
			t.Errorf("node b's JWKS lacks the rotated key after 5s")
		}
	})

	t.Run("ok/PublicKey re-reads on an unknown kid", func(t *testing.T) {
		b := initManager(t, store, c)
		if err := a.Rotate(ctx, keys.ES256); err != nil {
			t.Fatal(err)
		}
		rotated := signingKey(t, a, keys.ES256)
		// b read the store this instant: an unknown kid does not make it read again.
		reads := store.listCalls()
		if _, err := b.PublicKey(ctx, rotated.ID); !errors.Is(err, keys.ErrUnknownKey) {
			t.Fatalf("PublicKey right after b's read = %v, want ErrUnknownKey", err)
		}
		if store.listCalls() != reads {
			t.Error("an unknown kid made b read the store although its view was new")
		}
		c.Advance(time.Second)
		if _, err := b.PublicKey(ctx, rotated.ID); err != nil {
			t.Fatalf("PublicKey(kid rotated on another node): %v", err)
		}
		if got := store.listCalls(); got != reads+1 {
			t.Errorf("PublicKey read the store %d times, want once", got-reads)
		}
		if _, err := b.PublicKey(ctx, "no-such-kid"); !errors.Is(err, keys.ErrUnknownKey) {
			t.Errorf("PublicKey(made-up kid) = %v, want ErrUnknownKey", err)
		}
	})
}

func TestSigningKeyCache(t *testing.T) {
	ctx := context.Background()
	store, c := &fakeStore{}, newClock()
	m := initManager(t, store, c)
	first := signingKey(t, m, keys.ES256)
	reads := store.listCalls()
	for range 100 {
		if k := signingKey(t, m, keys.ES256); k.Private != first.Private {
			t.Fatal("cached key changed")
		}
	}
	if store.listCalls() != reads {
		t.Errorf("SigningKey read the store %d times within CacheFor", store.listCalls()-reads)
	}
	c.Advance(cacheFor)
	again := signingKey(t, m, keys.ES256)
	if store.listCalls() != reads+1 {
		t.Errorf("SigningKey read the store %d times after CacheFor, want once", store.listCalls()-reads)
	}
	// The same *ecdsa.PrivateKey: the key was not unsealed a second time.
	if again.Private != first.Private {
		t.Error("the private key was unsealed again on re-read")
	}

	t.Run("fail/unsupported algorithm", func(t *testing.T) {
		if _, err := m.SigningKey(ctx, "none"); !errors.Is(err, keys.ErrUnsupportedAlgorithm) {
			t.Errorf("SigningKey(none) = %v, want ErrUnsupportedAlgorithm", err)
		}
	})
	t.Run("fail/not initialised", func(t *testing.T) {
		fresh := newManager(t, &fakeStore{}, c, secret)
		if _, err := fresh.SigningKey(ctx, keys.ES256); !errors.Is(err, keys.ErrNoActiveKey) {
			t.Errorf("SigningKey on an empty store = %v, want ErrNoActiveKey", err)
		}
	})
	t.Run("fail/store error", func(t *testing.T) {
		broken := errors.New("database is down")
		failing := &fakeStore{failList: broken}
		fm := newManager(t, failing, c, secret)
		if _, err := fm.SigningKey(ctx, keys.ES256); !errors.Is(err, broken) {
			t.Errorf("SigningKey = %v, want the store's error", err)
		}
		if err := fm.Init(ctx); !errors.Is(err, broken) {
			t.Errorf("Init = %v, want the store's error", err)
		}
		if _, err := fm.JWKS(ctx); !errors.Is(err, broken) {
			t.Errorf("JWKS = %v, want the store's error", err)
		}
	})
}

// TestConcurrentReload holds a store read open and checks that callers arriving
// meanwhile share it, and that a caller whose context ends stops waiting.
func TestConcurrentReload(t *testing.T) {
	ctx := context.Background()
	store, c := &fakeStore{}, newClock()
	initManager(t, store, c)
	m := newManager(t, store, c, secret)

	entered, release := make(chan struct{}), make(chan struct{})
	store.beforeList = func() {
		close(entered)
		<-release
	}
	reads := store.listCalls()
	results := make(chan error, 5)
	go func() {
		_, err := m.SigningKey(ctx, keys.ES256)
		results <- err
	}()
	<-entered

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.SigningKey(cancelled, keys.ES256); !errors.Is(err, context.Canceled) {
		t.Errorf("SigningKey with an ended context while a read is running = %v, want context.Canceled", err)
	}

	for range 4 {
		go func() {
			_, err := m.SigningKey(ctx, keys.RS256)
			results <- err
		}()
	}
	close(release)
	for range 5 {
		if err := <-results; err != nil {
			t.Errorf("SigningKey: %v", err)
		}
	}
	if got := store.listCalls() - reads; got != 1 {
		t.Errorf("five concurrent callers read the store %d times, want once", got)
	}
}

func TestWrongSystemSecret(t *testing.T) {
	ctx := context.Background()
	store, c := &fakeStore{}, newClock()
	initManager(t, store, c)

	m := newManager(t, store, c, otherSecret)
	err := m.Init(ctx)
	checkUnsealError(t, err)
	_, err = m.SigningKey(ctx, keys.ES256)
	checkUnsealError(t, err)
	if got := len(store.snapshot()); got != 2 {
		t.Errorf("a node with the wrong secret changed the store: %d keys", got)
	}
	// The public keys do not need the secret and are still served.
	if got := jwksKIDs(t, m); len(got) != 2 {
		t.Errorf("JWKS with the wrong secret: %v, want both keys", got)
	}
}

func checkUnsealError(t *testing.T, err error) {
	t.Helper()
	var ue *keys.UnsealError
	if !errors.As(err, &ue) {
		t.Fatalf("error %v, want an UnsealError", err)
	}
	want := "signing key " + ue.KeyID + " cannot be unsealed: is the system secret the same as when it was created?"
	if ue.KeyID == "" || !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestTamperedKeys(t *testing.T) {
	ctx := context.Background()
	strange, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		// tamper changes the active ES256 row; retired is the ES256 key rotated
		// out before.
		tamper func(active, retired *storage.SigningKey)
		want   string // "" means an UnsealError
	}{
		{"fail/sealed key from another row", func(a, r *storage.SigningKey) {
			a.PrivateKeySealed = bytes.Clone(r.PrivateKeySealed)
		}, ""},
		{"fail/flipped byte", func(a, _ *storage.SigningKey) {
			a.PrivateKeySealed[len(a.PrivateKeySealed)/2] ^= 1
		}, ""},
		{"fail/truncated", func(a, _ *storage.SigningKey) {
			a.PrivateKeySealed = a.PrivateKeySealed[:10]
		}, ""},
		{"fail/empty", func(a, _ *storage.SigningKey) {
			a.PrivateKeySealed = nil
		}, ""},
		{"fail/public key replaced", func(a, _ *storage.SigningKey) {
			a.PublicKeyJWK, _ = json.Marshal(jose.JSONWebKey{Key: strange.Public(), KeyID: a.ID, Algorithm: "ES256", Use: "sig"})
		}, "does not match its published public key"},
		{"fail/public JWK unreadable", func(a, _ *storage.SigningKey) {
			a.PublicKeyJWK = []byte("{")
		}, "unreadable public JWK"},
		{"fail/private key in the public JWK", func(a, _ *storage.SigningKey) {
			a.PublicKeyJWK, _ = json.Marshal(jose.JSONWebKey{Key: strange, KeyID: a.ID, Algorithm: "ES256", Use: "sig"})
		}, "not a public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, c := &fakeStore{}, newClock()
			m := initManager(t, store, c)
			retired := signingKey(t, m, keys.ES256)
			if err := m.Rotate(ctx, keys.ES256); err != nil {
				t.Fatal(err)
			}
			active := signingKey(t, m, keys.ES256)
			retiredRow := store.row(t, retired.ID)
			store.update(active.ID, func(r *storage.SigningKey) { tt.tamper(r, &retiredRow) })

			other := newManager(t, store, c, secret)
			_, err := other.SigningKey(ctx, keys.ES256)
			if tt.want == "" {
				checkUnsealError(t, err)
			} else if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("SigningKey = %v, want an error saying %q", err, tt.want)
			}
			if err := other.Init(ctx); err == nil {
				t.Error("Init accepted a tampered key")
			}
			// The other algorithm is unaffected.
			if _, err := other.SigningKey(ctx, keys.RS256); err != nil {
				t.Errorf("SigningKey(RS256): %v", err)
			}
		})
	}
}

func TestStoredKeysAreSealed(t *testing.T) {
	ctx := context.Background()
	store, c := &fakeStore{}, newClock()
	m := initManager(t, store, c)
	handed := []keys.Key{signingKey(t, m, keys.ES256), signingKey(t, m, keys.RS256)}
	if err := m.Rotate(ctx, ""); err != nil {
		t.Fatal(err)
	}
	handed = append(handed, signingKey(t, m, keys.ES256), signingKey(t, m, keys.RS256))

	rows := store.snapshot()
	if len(rows) != 4 {
		t.Fatalf("%d keys stored, want 4", len(rows))
	}
	for _, k := range handed {
		der, err := x509.MarshalPKCS8PrivateKey(k.Private)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if bytes.Contains(r.PrivateKeySealed, der) {
				t.Errorf("row %s holds the PKCS#8 key %s in the clear", r.ID, k.ID)
			}
			if bytes.Contains(r.PublicKeyJWK, []byte(`"d"`)) {
				t.Errorf("row %s's public JWK holds a private member", r.ID)
			}
		}
		if r := store.row(t, k.ID); len(r.PrivateKeySealed) < len(der) {
			t.Errorf("sealed key %s is shorter than the key", k.ID)
		}
	}

	listed, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != len(rows) {
		t.Fatalf("List returned %d keys, want %d", len(listed), len(rows))
	}
	for _, r := range listed {
		if r.PrivateKeySealed != nil {
			t.Errorf("List exposes the sealed private key of %s", r.ID)
		}
		if len(r.PublicKeyJWK) == 0 {
			t.Errorf("List lacks the public JWK of %s", r.ID)
		}
	}
	if !listed[0].CreatedAt.Equal(c.Now()) || !listed[0].Active() {
		t.Errorf("List is not newest first: %+v", listed[0])
	}
}

// TestConcurrentUse exercises every read path while keys rotate and the clock moves,
// for the race detector; every key handed out must verify through the same manager.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	store, c := &fakeStore{}, newClock()
	m := initManager(t, store, c)
	peer := initManager(t, store, c)

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for _, mgr := range []*keys.Manager{m, peer, m, peer} {
		wg.Go(func() {
			for range 200 {
				c.Advance(100 * time.Millisecond)
				k, err := mgr.SigningKey(ctx, keys.ES256)
				if err != nil {
					errs <- err
					return
				}
				if _, err := mgr.PublicKey(ctx, k.ID); err != nil {
					errs <- err
					return
				}
				if _, err := mgr.JWKS(ctx); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			if err := m.Rotate(ctx, keys.ES256); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func BenchmarkSigningKey(b *testing.B) {
	m, err := keys.NewManager(&fakeStore{}, secret, keys.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := m.Init(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.SigningKey(ctx, keys.ES256); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
