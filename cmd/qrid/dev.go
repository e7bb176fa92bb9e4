package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"text/tabwriter"

	"github.com/qrid/qrid/provider/admin"
	"github.com/qrid/qrid/storage"
)

// The demo client and user that `qrid serve --dev` seeds.
const (
	demoClientID   = "demo"
	demoClientName = "qrid demo site"
	demoUsername   = "demo"
)

var (
	demoRedirectURIs           = []string{"http://localhost:9090/callback", "http://127.0.0.1:9090/callback"}
	demoPostLogoutRedirectURIs = []string{"http://localhost:9090/"}
	demoGrantTypes             = []string{"authorization_code", "refresh_token", "client_credentials"}
)

// demoData is what the banner shows of the seeded demo client and user. An empty
// secret or password means the object already existed (a persistent store) and keeps
// the credentials it was created with.
type demoData struct {
	clientSecret string
	password     string
}

// seedDemo creates the demo client and user. Existing ones (a database that already
// holds them from an earlier run) are kept as they are.
func seedDemo(ctx context.Context, svc *admin.Service, logger *slog.Logger) (*demoData, error) {
	var d demoData
	client, err := svc.CreateClient(ctx, admin.ClientMetadata{
		ClientID:               demoClientID,
		ClientName:             demoClientName,
		RedirectURIs:           demoRedirectURIs,
		PostLogoutRedirectURIs: demoPostLogoutRedirectURIs,
		GrantTypes:             demoGrantTypes,
	})
	switch {
	case err == nil:
		d.clientSecret = client.ClientSecret
	case errors.Is(err, storage.ErrConflict):
		logger.Info("demo client already exists; keeping it", "client_id", demoClientID)
	default:
		return nil, fmt.Errorf("creating the demo client: %w", err)
	}

	password := randomToken()[:20]
	_, err = svc.CreateUser(ctx, admin.NewUser{
		Username: demoUsername,
		Password: password,
		Name:     "Demo User",
		Email:    "demo@example.com",
	})
	switch {
	case err == nil:
		d.password = password
	case errors.Is(err, storage.ErrConflict):
		logger.Info("demo user already exists; keeping it", "username", demoUsername)
	default:
		return nil, fmt.Errorf("creating the demo user: %w", err)
	}
	return &d, nil
}

// printDevBanner tells the developer how to use the running dev server.
func (a *app) printDevBanner(cfg serveConfig, gen generated, adminAddr net.Addr, d *demoData) {
	adminToken := "(as configured)"
	if gen.adminToken {
		adminToken = cfg.adminToken
	}
	clientSecret := d.clientSecret
	if clientSecret == "" {
		clientSecret = "(unchanged: the client already existed)"
	}
	password := d.password
	if password == "" {
		password = "(unchanged: the user already existed)"
	}
	endpoint := adminEndpoint(adminAddr)

	var b strings.Builder
	b.WriteString("\n=== qrid development mode: never use it in production ===\n\n")
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "  issuer\t%s\n", cfg.issuer)
	fmt.Fprintf(w, "  discovery\t%s/.well-known/openid-configuration\n", cfg.issuer)
	fmt.Fprintf(w, "  admin API\t%s\n", endpoint)
	fmt.Fprintf(w, "  admin token\t%s\n", adminToken)
	fmt.Fprintf(w, "  demo client\tclient_id=%s client_secret=%s\n", demoClientID, clientSecret)
	fmt.Fprintf(w, "  \tredirect URIs: %s\n", strings.Join(demoRedirectURIs, " "))
	fmt.Fprintf(w, "  demo user\tusername=%s password=%s\n", demoUsername, password)
	_ = w.Flush()
	if gen.adminToken {
		fmt.Fprintf(&b, "\nFor the qrid clients, users and keys commands:\n  export QRID_ENDPOINT=%s QRID_ADMIN_TOKEN=%s\n", endpoint, cfg.adminToken)
	}
	if gen.secret {
		b.WriteString("\nThe system secret is random: tokens and keys do not survive a restart.\n")
	}
	b.WriteString("\n")
	fmt.Fprint(a.stdout, b.String())
}

// adminEndpoint is the URL of the admin listener as a local client reaches it.
func adminEndpoint(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
