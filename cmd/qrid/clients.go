package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const clientsPath = "/admin/v1/clients"

// clientMetadata is the RFC 7591 client metadata the create command sends.
type clientMetadata struct {
	ClientID                 string   `json:"client_id,omitempty"`
	ClientName               string   `json:"client_name,omitempty"`
	RedirectURIs             []string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs   []string `json:"post_logout_redirect_uris,omitempty"`
	GrantTypes               []string `json:"grant_types,omitempty"`
	Scope                    string   `json:"scope,omitempty"`
	TokenEndpointAuthMethod  string   `json:"token_endpoint_auth_method,omitempty"`
	LogoURI                  string   `json:"logo_uri,omitempty"`
	ClientURI                string   `json:"client_uri,omitempty"`
	IDTokenSignedResponseAlg string   `json:"id_token_signed_response_alg,omitempty"`
	FirstParty               *bool    `json:"first_party,omitempty"`
}

func (a *app) newClientsCmd() *cobra.Command {
	var conn adminFlags
	cmd := groupCmd("clients", "Register and manage OAuth clients (admin API)",
		a.newClientsCreateCmd(&conn),
		a.adminCall(&conn, "list", "List the registered clients", http.MethodGet, func([]string) string { return clientsPath }),
		a.adminCall(&conn, "get CLIENT_ID", "Show one client", http.MethodGet, func(args []string) string { return idPath(clientsPath, args[0]) }),
		a.adminCall(&conn, "delete CLIENT_ID", "Delete a client; its tokens stop working", http.MethodDelete, func(args []string) string { return idPath(clientsPath, args[0]) }),
		a.adminCall(&conn, "rotate-secret CLIENT_ID", "Give a confidential client a new secret (printed once)", http.MethodPost, func(args []string) string { return idPath(clientsPath, args[0]) + "/secret" }),
	)
	conn.add(cmd)
	return cmd
}

func (a *app) newClientsCreateCmd(conn *adminFlags) *cobra.Command {
	var (
		md         clientMetadata
		firstParty bool
		metadata   string
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Register a client; its secret is printed once",
		Long: "Register a client from flags, or from RFC 7591 client metadata in JSON with\n" +
			"--metadata FILE (- for standard input). The answer, printed as JSON, holds the\n" +
			"client_secret of a confidential client: it is shown only this once.",
		Example: "  qrid clients create --name \"Example site\" \\\n" +
			"    --redirect-uri https://example.com/callback \\\n" +
			"    --post-logout-redirect-uri https://example.com/ \\\n" +
			"    --grant-type authorization_code --grant-type refresh_token \\\n" +
			"    --scope \"openid profile email offline_access\"\n" +
			"  qrid clients create --metadata client.json",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var body []byte
			if metadata != "" {
				var given []string
				cmd.Flags().Visit(func(f *pflag.Flag) {
					if f.Name != "metadata" && f.Annotations[noEnvAnnotation] != nil {
						given = append(given, "--"+f.Name)
					}
				})
				if len(given) > 0 {
					return usageError{fmt.Errorf("--metadata cannot be combined with %s", strings.Join(given, ", "))}
				}
				raw, err := a.readMetadata(metadata)
				if err != nil {
					return err
				}
				body = raw
			} else {
				if cmd.Flags().Changed("first-party") {
					md.FirstParty = &firstParty
				}
				var err error
				if body, err = json.Marshal(md); err != nil {
					return err
				}
			}
			return a.call(cmd, conn, http.MethodPost, clientsPath, body)
		},
	}
	f := cmd.Flags()
	f.StringVar(&md.ClientID, "client-id", "", "client ID (default: generated)")
	f.StringVar(&md.ClientName, "name", "", "name shown to people when they sign in")
	f.StringArrayVar(&md.RedirectURIs, "redirect-uri", nil, "redirect URI (repeat for several)")
	f.StringArrayVar(&md.PostLogoutRedirectURIs, "post-logout-redirect-uri", nil, "post-logout redirect URI (repeat for several)")
	f.StringArrayVar(&md.GrantTypes, "grant-type", nil, "grant type, e.g. authorization_code, refresh_token, client_credentials,\nurn:ietf:params:oauth:grant-type:device_code (repeat for several)")
	f.StringVar(&md.Scope, "scope", "", "space-separated scopes the client may ask for")
	f.StringVar(&md.TokenEndpointAuthMethod, "auth-method", "", "token endpoint auth method: client_secret_basic, client_secret_post or none (public client)")
	f.StringVar(&md.LogoURI, "logo-uri", "", "URL of the client's logo")
	f.StringVar(&md.ClientURI, "client-uri", "", "URL of the client's home page")
	f.StringVar(&md.IDTokenSignedResponseAlg, "id-token-alg", "", "ID token signing algorithm: ES256 (default) or RS256")
	f.BoolVar(&firstParty, "first-party", false, "first-party client (no number matching on QR sign-in)")
	f.StringVar(&metadata, "metadata", "", "RFC 7591 client metadata JSON file (- for standard input); excludes the other flags")
	noEnv(f, "client-id", "name", "redirect-uri", "post-logout-redirect-uri", "grant-type", "scope",
		"auth-method", "logo-uri", "client-uri", "id-token-alg", "first-party", "metadata")
	return cmd
}

// readMetadata reads a JSON object from a file, or from standard input for "-".
func (a *app) readMetadata(name string) ([]byte, error) {
	var (
		raw []byte
		err error
	)
	if name == "-" {
		raw, err = io.ReadAll(io.LimitReader(a.stdin, 1<<20))
	} else {
		raw, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading --metadata: %w", err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("--metadata %s is not a JSON object: %v", name, errOr(err, errors.New("null")))
	}
	return raw, nil
}

func errOr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

// idArg accepts exactly one non-empty positional argument.
func idArg(name string) cobra.PositionalArgs {
	exact := exactArgs(name)
	return func(cmd *cobra.Command, args []string) error {
		if err := exact(cmd, args); err != nil {
			return err
		}
		if strings.TrimSpace(args[0]) == "" {
			return usageError{fmt.Errorf("%s must not be empty", name)}
		}
		return nil
	}
}
