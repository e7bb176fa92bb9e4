// Command qrid is the qrid OpenID Connect provider and its command-line tools.
//
// `qrid serve` runs the provider: the public listener (OIDC endpoints, the QR sign-in,
// login pages, mobile API) and the admin listener. `qrid migrate` manages the
// PostgreSQL schema. `qrid clients`, `qrid users` and `qrid keys` are thin clients of
// the admin HTTP API and print its JSON answers; `qrid healthcheck` probes a listener
// (for container health checks in images without a shell).
//
// Two commands use only public APIs, as any client of a qrid issuer could: `qrid
// login` is a terminal relying party (RFC 8628 device authorization with qrid's
// long-poll extension; it draws the QR code on standard error and prints the verified
// ID token's claims on standard output), and `qrid phone` is a reference mobile app
// (sign in, scan a QR code's text, a PNG of it or a typed user code, approve or deny,
// list and revoke devices), keeping its device token in a 0600 state file.
//
// `qrid serve --dev` seeds, unless they already exist, the demo web client "demo"
// (confidential), the demo terminal client "demo-cli" (public, device_code and
// refresh_token grants, not first-party so number matching is on) and the demo user
// "demo", and prints a banner with their credentials and the commands that try the
// QR sign-in from terminals.
//
// Configuration: every configuration flag can also be given in the environment as
// QRID_<FLAG>, upper case with dashes turned into underscores (--admin-addr is
// QRID_ADMIN_ADDR). A flag given on the command line wins over the environment. The
// flags that describe one object to create (qrid clients create --name, qrid users
// create --email, ...) are not read from the environment: an unrelated variable such
// as QRID_NAME must never end up in a registered client.
//
// Errors are printed on standard error as "qrid: <message>" and make qrid exit with
// status 1; the program never ends with a stack trace.
package main

import (
	"context"
	"os"
)

func main() {
	a := &app{
		stdin:     os.Stdin,
		stdout:    os.Stdout,
		stderr:    os.Stderr,
		lookupEnv: os.LookupEnv,
	}
	os.Exit(a.run(context.Background(), os.Args[1:]))
}
