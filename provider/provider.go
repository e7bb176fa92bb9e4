// Package provider is qrid's HTTP surface: the fosite composition, the public router
// (discovery, JWKS, authorize, token, userinfo, introspection, revocation, logout, the
// login and consent pages, health and metrics) and the wiring of the admin listener.
package provider

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/qrid/qrid/provider/admin"
	"github.com/qrid/qrid/storage"
)

// Config is what a provider is built from. cmd/qrid fills it from flags.
type Config struct {
	// Issuer is the exact issuer URL; https unless Dev.
	Issuer string
	// Dev allows http redirect URIs and issuer, and mounts the demo pages.
	Dev bool
	// Secret is the system secret (32+ bytes): key of every digest and of the
	// encryption of signing keys at rest.
	Secret []byte
	// AdminToken is the bearer token of the admin API.
	AdminToken string
	// QRTTL and QRInterval configure QR sessions (the QR grant).
	QRTTL      time.Duration
	QRInterval time.Duration
	Logger     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Provider serves qrid's public and admin listeners.
type Provider struct {
	cfg   Config
	store storage.Storage
	admin *admin.Service
}

// New builds a provider on store and makes sure signing keys exist.
func New(ctx context.Context, cfg Config, store storage.Storage) (*Provider, error) {
	return nil, errors.New("provider: not implemented yet")
}

// PublicHandler serves the public listener.
func (p *Provider) PublicHandler() http.Handler { return http.NotFoundHandler() }

// AdminHandler serves the admin listener (bearer Config.AdminToken).
func (p *Provider) AdminHandler() http.Handler { return http.NotFoundHandler() }

// Admin is the admin service, used by `qrid serve --dev` to seed demo data.
func (p *Provider) Admin() *admin.Service { return p.admin }

// RunGarbageCollector deletes expired rows every interval until ctx ends.
func (p *Provider) RunGarbageCollector(ctx context.Context, every time.Duration) {}
