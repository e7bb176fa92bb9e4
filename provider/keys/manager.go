package keys

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/qrid/qrid/storage"
)

// The signing algorithms qrid supports (RFC 7518 §3.1 names).
const (
	ES256 = "ES256"
	RS256 = "RS256"
)

// algorithms lists the supported algorithms; Init and Rotate("") cover all of them.
var algorithms = [...]string{ES256, RS256}

func algIndex(alg string) (int, bool) {
	switch alg {
	case ES256:
		return 0, true
	case RS256:
		return 1, true
	}
	return 0, false
}

const (
	defaultRetainFor = 24 * time.Hour
	defaultCacheFor  = 30 * time.Second
	// jwksMaxAge is how long the public view is trusted: short, so that a key
	// rotated on another node is published before that node's peers sign with it.
	jwksMaxAge = 5 * time.Second
	// minUnknownKIDReload is the least age of a snapshot that an unknown kid may
	// cause to be re-read, so made-up kids cannot make every request a store read.
	minUnknownKIDReload = time.Second
)

var (
	// ErrUnsupportedAlgorithm is returned for an algorithm other than ES256 and RS256.
	ErrUnsupportedAlgorithm = errors.New("keys: unsupported signing algorithm")
	// ErrUnknownKey is returned by PublicKey for a kid that is not stored, or whose
	// key has retired and expired.
	ErrUnknownKey = errors.New("keys: unknown or expired signing key")
	// ErrNoActiveKey is returned by SigningKey when the store holds no active key
	// for the algorithm.
	ErrNoActiveKey = errors.New("keys: no active signing key")
)

func unsupported(alg string) error {
	return fmt.Errorf("%w %q (want %s or %s)", ErrUnsupportedAlgorithm, alg, ES256, RS256)
}

// Options tunes a Manager. The zero value is usable.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// RetainFor is how long a retired key stays in the JWKS: the longest lifetime
	// of a token it signed (the ID token lifetime plus a margin). Default 24h.
	RetainFor time.Duration
	// CacheFor is how long the active signing keys are used without re-reading the
	// store; nodes on one database converge on a rotated key within it. Default 30s.
	CacheFor time.Duration
	// Logger receives key creation, rotation and failures; slog.Default() when nil.
	Logger *slog.Logger
}

// Key is an active signing key.
type Key struct {
	// ID is the kid.
	ID string
	// Algorithm is ES256 or RS256.
	Algorithm string
	// Private is an *ecdsa.PrivateKey (ES256) or *rsa.PrivateKey (RS256), shared
	// with every other caller: use it, never modify it.
	Private crypto.Signer
}

// Manager keeps the signing keys of one node. It is safe for concurrent use.
type Manager struct {
	store     storage.SigningKeyStore
	sealer    *sealer
	now       func() time.Time
	retainFor time.Duration
	cacheFor  time.Duration
	jwksAge   time.Duration
	log       *slog.Logger

	// snap is the current view of the stored keys; nil until the first read.
	snap atomic.Pointer[snapshot]
	// sem (capacity 1) serialises store reads that replace snap, and guards
	// unsealed.
	sem chan struct{}
	// unsealed holds the private keys of the active keys by kid, so each is
	// unsealed once.
	unsealed map[string]crypto.Signer
}

// NewManager returns a manager for the keys in store, sealed under a key derived from
// systemSecret (at least MinSecretLen bytes). It does not touch the store: call Init.
func NewManager(store storage.SigningKeyStore, systemSecret []byte, opts Options) (*Manager, error) {
	if store == nil {
		return nil, errors.New("keys: no store")
	}
	if opts.RetainFor < 0 || opts.CacheFor < 0 {
		return nil, errors.New("keys: RetainFor and CacheFor cannot be negative")
	}
	s, err := newSealer(systemSecret)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		store:     store,
		sealer:    s,
		now:       opts.Now,
		retainFor: opts.RetainFor,
		cacheFor:  opts.CacheFor,
		log:       opts.Logger,
		sem:       make(chan struct{}, 1),
		unsealed:  map[string]crypto.Signer{},
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.retainFor == 0 {
		m.retainFor = defaultRetainFor
	}
	if m.cacheFor == 0 {
		m.cacheFor = defaultCacheFor
	}
	m.jwksAge = min(jwksMaxAge, m.cacheFor)
	if m.log == nil {
		m.log = slog.Default()
	}
	return m, nil
}

// Init makes sure the store holds an active ES256 and an active RS256 key, creating
// the missing ones, and that this node can unseal them. When another node creates a
// key at the same time, the store keeps one and every node uses it.
func (m *Manager) Init(ctx context.Context) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.unlock()
	s, err := m.loadLocked(ctx)
	if err != nil {
		return err
	}
	changed := false
	for idx, alg := range algorithms {
		if !errors.Is(s.signing[idx].err, ErrNoActiveKey) {
			continue
		}
		g, err := m.sealer.generate(alg)
		if err != nil {
			return err
		}
		g.row.CreatedAt = m.now()
		err = m.store.CreateSigningKey(ctx, g.row)
		switch {
		case errors.Is(err, storage.ErrConflict):
			m.log.Info("another node created the signing key first; using its key", slog.String("alg", alg))
		case err != nil:
			return fmt.Errorf("keys: storing the new %s key: %w", alg, err)
		default:
			m.log.Info("created signing key", slog.String("alg", alg), slog.String("kid", g.key.ID))
			m.unsealed[g.key.ID] = g.key.Private
		}
		changed = true
	}
	if changed {
		if s, err = m.loadLocked(ctx); err != nil {
			return err
		}
	}
	for idx := range algorithms {
		if err := s.signing[idx].err; err != nil {
			return err
		}
	}
	return nil
}

// SigningKey returns the active key for alg (ES256 or RS256). It reads the store only
// when its snapshot is older than Options.CacheFor.
func (m *Manager) SigningKey(ctx context.Context, alg string) (Key, error) {
	idx, ok := algIndex(alg)
	if !ok {
		return Key{}, unsupported(alg)
	}
	s, err := m.fresh(ctx, m.cacheFor)
	if err != nil {
		return Key{}, err
	}
	slot := &s.signing[idx]
	return slot.key, slot.err
}

// JWKS returns the public keys to publish: every active key and every retired key
// whose ExpiresAt is still ahead, each with kid, alg and use "sig".
func (m *Manager) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	s, err := m.fresh(ctx, m.jwksAge)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	now := m.now()
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(s.public))}
	for i := range s.public {
		if e := &s.public[i]; e.visible(now) {
			set.Keys = append(set.Keys, e.jwk)
		}
	}
	return set, nil
}

// PublicKey returns the public key named kid if the JWKS would publish it, for
// verifying tokens qrid issued. An unknown kid makes it re-read the store once (at
// most once a second), in case the key was just created on another node.
func (m *Manager) PublicKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	s, err := m.fresh(ctx, m.jwksAge)
	if err != nil {
		return nil, err
	}
	if pub, ok := s.lookup(kid, m.now()); ok {
		return pub, nil
	}
	if _, stored := s.byKID[kid]; !stored && m.now().Sub(s.loaded) >= minUnknownKIDReload {
		if s, err = m.reload(ctx, s); err != nil {
			return nil, err
		}
		if pub, ok := s.lookup(kid, m.now()); ok {
			return pub, nil
		}
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
}

// Rotate makes a new key the active key for alg, or for every algorithm when alg is
// empty. The old key retires and stays published for Options.RetainFor plus
// Options.CacheFor (other nodes may sign with it until they re-read the store). This
// node uses the new key at once.
func (m *Manager) Rotate(ctx context.Context, alg string) error {
	algs := algorithms[:]
	if alg != "" {
		if _, ok := algIndex(alg); !ok {
			return unsupported(alg)
		}
		algs = []string{alg}
	}
	// Generate before taking the lock: RSA generation is slow and readers wait on
	// the lock when their snapshot is stale.
	next := make([]generated, 0, len(algs))
	for _, a := range algs {
		g, err := m.sealer.generate(a)
		if err != nil {
			return err
		}
		next = append(next, g)
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.unlock()
	var rotateErr error
	for _, g := range next {
		now := m.now()
		g.row.CreatedAt = now
		if err := m.store.RotateSigningKey(ctx, g.row, now, now.Add(m.retainFor+m.cacheFor)); err != nil {
			rotateErr = fmt.Errorf("keys: rotating the %s key: %w", g.key.Algorithm, err)
			break
		}
		m.log.Info("rotated signing key", slog.String("alg", g.key.Algorithm), slog.String("kid", g.key.ID))
		m.unsealed[g.key.ID] = g.key.Private
	}
	// Refresh even after a partial failure, so that what was rotated is used.
	if _, err := m.loadLocked(ctx); err != nil && rotateErr == nil {
		rotateErr = err
	}
	return rotateErr
}

// List returns every stored key, newest first, with only public data:
// PrivateKeySealed is always nil.
func (m *Manager) List(ctx context.Context) ([]storage.SigningKey, error) {
	rows, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: reading signing keys: %w", err)
	}
	out := make([]storage.SigningKey, len(rows))
	for i, r := range rows {
		r.PrivateKeySealed = nil
		r.PublicKeyJWK = bytes.Clone(r.PublicKeyJWK)
		out[i] = r
	}
	return out, nil
}
