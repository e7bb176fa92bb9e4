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

// The demo clients and user that `qrid serve --dev` seeds.
const (
	demoClientID   = "demo"
	demoClientName = "qrid demo site"
	demoUsername   = "demo"

	// The demo terminal client: a public device-flow client for trying the QR
	// sign-in with `qrid login`. It is not first-party, so number matching is on.
	demoCLIClientID   = "demo-cli"
	demoCLIClientName = "qrid demo terminal"
)

var (
	demoRedirectURIs           = []string{"http://localhost:9090/callback", "http://127.0.0.1:9090/callback"}
	demoPostLogoutRedirectURIs = []string{"http://localhost:9090/"}
	demoGrantTypes             = []string{"authorization_code", "refresh_token", "client_credentials"}
	demoCLIGrantTypes          = []string{admin.GrantDeviceCode, admin.GrantRefreshToken}
)

// demoData is what the banner shows of the seeded demo client and user. An empty
// secret or password means the object already existed (a persistent store) and keeps
// the credentials it was created with.
type demoData struct {
	clientSecret string
	password     string
}

// seedDemo creates the demo web client, the demo terminal client and the demo user.
// Existing ones (a database that already holds them from an earlier run) are kept as
// they are.
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

	_, err = svc.CreateClient(ctx, admin.ClientMetadata{
		ClientID:                demoCLIClientID,
		ClientName:              demoCLIClientName,
		GrantTypes:              demoCLIGrantTypes,
		TokenEndpointAuthMethod: admin.AuthNone,
		FirstParty:              false,
	})
	switch {
	case err == nil:
	case errors.Is(err, storage.ErrConflict):
		logger.Info("demo terminal client already exists; keeping it", "client_id", demoCLIClientID)
	default:
		return nil, fmt.Errorf("creating the demo terminal client: %w", err)
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
	fmt.Fprintf(w, "  demo terminal\tclient_id=%s (public, device_code grant, number matching)\n", demoCLIClientID)
	fmt.Fprintf(w, "  demo user\tusername=%s password=%s\n", demoUsername, password)
	_ = w.Flush()
	fmt.Fprintf(&b, "\nTry it in a browser: %[1]s/demo (approve with the mobile web app at %[1]s/app)\n", cfg.issuer)
	fmt.Fprintf(&b, "\nTry the QR sign-in from terminals (go run ./cmd/qrid in place of qrid):\n"+
		"  phone:    qrid phone login --issuer %[1]s --username %[2]s\n"+
		"  terminal: qrid login --issuer %[1]s --client-id %[3]s\n"+
		"  phone:    qrid phone scan --user-code CODE   (CODE: printed under the QR code)\n"+
		"            or qrid phone scan <QR text or PNG>\n"+
		"  phone:    qrid phone approve --match NN      (NN: the number qrid login shows)\n",
		cfg.issuer, demoUsername, demoCLIClientID)
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
