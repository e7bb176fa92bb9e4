// Command relying-party is a small third-party website that signs people in with
// qrid ("Log in with qrid"), using only standard OpenID Connect client libraries:
// github.com/coreos/go-oidc/v3 for discovery and ID token verification and
// golang.org/x/oauth2 for the authorization code flow with PKCE.
//
// With `qrid serve --dev` running, start it with the demo client's secret that qrid
// printed and open http://localhost:9090:
//
//	go run ./examples/relying-party --client-secret <client_secret>
//
// Every flag also reads an environment variable (RP_ISSUER, RP_CLIENT_ID,
// RP_CLIENT_SECRET, RP_ADDR, RP_REDIRECT_URL); a flag on the command line wins.
//
// What it does, in order:
//   - GET /login sets three short-lived HttpOnly, SameSite=Lax cookies (state, nonce,
//     PKCE verifier) and redirects to qrid's authorization endpoint with
//     code_challenge_method=S256 and the scopes openid, profile and email.
//   - GET /callback checks the state, shows an error response (access_denied, ...)
//     as it is, exchanges the code with the verifier, verifies the ID token and its
//     nonce, and keeps the session in server memory under a random cookie: no token
//     ever goes into a cookie.
//   - GET / shows the ID token's claims; POST /logout ends the local session and
//     redirects to qrid's end_session_endpoint (OpenID Connect RP-Initiated Logout
//     1.0) with id_token_hint, post_logout_redirect_uri (this site's home page) and
//     state.
//
// Discovery is lazy: the site starts without qrid and says clearly on /login when
// qrid cannot be reached, then tries again on the next attempt.
//
// Cookies belong to one host name, and the redirect URL names the host the browser
// comes back to, so / and /login redirect a browser that arrived under another name
// (127.0.0.1 rather than localhost) to the redirect URL's host first.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "relying-party:", err)
		os.Exit(2)
	}
	h, err := newServer(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relying-party:", err)
		os.Exit(2)
	}
	srv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	slog.Info("relying party listening", "addr", cfg.Addr, "open", homeURL(cfg.redirectURL), "issuer", cfg.Issuer, "client_id", cfg.ClientID)
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "relying-party:", err)
		os.Exit(1)
	}
}

// parseConfig reads the flags, each with an RP_<FLAG> environment variable as its
// default, and validates the result.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	env := func(flagName, def string) string {
		if v := getenv("RP_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("relying-party", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	fs.StringVar(&cfg.Issuer, "issuer", env("issuer", "http://localhost:8080"), "qrid's issuer URL (env RP_ISSUER)")
	fs.StringVar(&cfg.ClientID, "client-id", env("client-id", "demo"), "the client ID registered at qrid (env RP_CLIENT_ID)")
	fs.StringVar(&cfg.ClientSecret, "client-secret", env("client-secret", ""), "the client secret; qrid serve --dev prints the demo client's (env RP_CLIENT_SECRET)")
	fs.StringVar(&cfg.Addr, "addr", env("addr", "127.0.0.1:9090"), "address to listen on (env RP_ADDR)")
	fs.StringVar(&cfg.RedirectURL, "redirect-url", env("redirect-url", "http://localhost:9090/callback"), "the redirect URI registered at qrid (env RP_REDIRECT_URL)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if err := cfg.validate(); err != nil {
		return config{}, err
	}
	return cfg, nil
}
