package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/qrid/qrid/provider/dpop"
)

// mobileAPIPath is where the mobile API lives under the issuer.
const mobileAPIPath = "/api/mobile/v1"

// phoneDeviceType is the device_type this reference client signs in with.
const phoneDeviceType = "cli"

func (a *app) newPhoneCmd() *cobra.Command {
	var statePath string
	p := &phoneCmd{app: a, statePath: &statePath}
	cmd := groupCmd("phone", "A reference qrid mobile app: sign in, scan QR codes, approve or deny",
		p.newLoginCmd(),
		p.newScanCmd(),
		p.newConfirmCmd(true),
		p.newConfirmCmd(false),
		p.newDevicesCmd(),
		p.newLogoutCmd(),
	)
	cmd.Long = "qrid phone does from a terminal what the qrid mobile app does, with the same public\n" +
		"mobile API: it signs in with a username and password and keeps the device token in\n" +
		"a state file (mode 0600; --state, default $XDG_CONFIG_HOME/qrid/phone.json or\n" +
		"~/.config/qrid/phone.json), scans a QR code (its text, or a PNG file), shows what\n" +
		"the person would see on the phone, and approves or denies the sign-in."
	cmd.PersistentFlags().StringVar(&statePath, "state", "", "state file (default $XDG_CONFIG_HOME/qrid/phone.json or ~/.config/qrid/phone.json)")
	return cmd
}

// phoneCmd holds what the phone subcommands share.
type phoneCmd struct {
	app       *app
	statePath *string
}

// path is the state file's path.
func (p *phoneCmd) path() (string, error) {
	if *p.statePath != "" {
		return *p.statePath, nil
	}
	return p.app.defaultStatePath()
}

// signedIn loads the state, checks that it holds a device token and returns it with
// a mobile API client for that device.
func (p *phoneCmd) signedIn() (string, *phoneState, *mobileClient, error) {
	path, err := p.path()
	if err != nil {
		return "", nil, nil, err
	}
	st, err := loadPhoneState(path)
	if err != nil {
		return "", nil, nil, err
	}
	if err := st.signedIn(); err != nil {
		return "", nil, nil, err
	}
	c, err := st.client()
	if err != nil {
		return "", nil, nil, err
	}
	return path, st, c, nil
}

func (p *phoneCmd) newLoginCmd() *cobra.Command {
	var issuer, username, deviceName string
	cmd := &cobra.Command{
		Use:   "login --issuer URL --username NAME",
		Short: "Sign this phone in; the password is read from the terminal or standard input",
		Long: "Sign this phone in to the mobile API. The password is never a flag: on a terminal\n" +
			"it is asked without echo; otherwise the first line of standard input is the password.\n" +
			"The device token is kept in the state file, with a device ID made up once.",
		Example: "  qrid phone login --issuer https://id.example.com --username alice\n" +
			"  printf '%s\\n' \"$PASSWORD\" | qrid phone login --issuer https://id.example.com --username alice",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var problems []string
			if err := checkIssuer(issuer); err != nil {
				problems = append(problems, err.Error())
			}
			if strings.TrimSpace(username) == "" {
				problems = append(problems, "--username is required")
			}
			if len(problems) > 0 {
				return usageError{errors.New(strings.Join(problems, "; "))}
			}
			path, err := p.path()
			if err != nil {
				return err
			}
			st, err := loadPhoneState(path)
			if err != nil {
				return err
			}
			password, err := p.app.readLoginPassword()
			if err != nil {
				return err
			}
			if st.DeviceID == "" {
				st.DeviceID = newDeviceID()
			}
			if deviceName == "" {
				deviceName = defaultDeviceName()
			}
			// The token is bound to a key made for this sign-in (RFC 9449): a copy
			// of the state file's token alone is not enough.
			key, keyDER, err := newDPoPKey()
			if err != nil {
				return err
			}
			c := &mobileClient{issuer: strings.TrimRight(issuer, "/"), deviceID: st.DeviceID, key: key, http: newMobileHTTP()}
			var ans struct {
				Token     string `json:"token"`
				TokenType string `json:"token_type"`
				AccountID string `json:"account_id"`
				DeviceID  string `json:"device_id"`
				ID        string `json:"id"`
			}
			err = c.do(cmd.Context(), http.MethodPost, "/login", map[string]string{
				"username":    username,
				"password":    password,
				"device_id":   st.DeviceID,
				"device_type": phoneDeviceType,
				"device_name": deviceName,
			}, &ans)
			if err != nil {
				return err
			}
			if ans.Token == "" {
				return errors.New("the mobile API answered the sign-in without a token")
			}
			if ans.DeviceID != "" && ans.DeviceID != st.DeviceID {
				return fmt.Errorf("the mobile API bound the token to device %q, not this device %q", ans.DeviceID, st.DeviceID)
			}
			bound := strings.EqualFold(ans.TokenType, dpop.Scheme)
			if !bound {
				// A server that does not know DPoP answers a bearer token.
				keyDER = nil
				fmt.Fprintln(p.app.stderr, "warning: the server did not bind the token to this device's key (no DPoP); it is a plain bearer token")
			}
			*st = phoneState{Issuer: c.issuer, DeviceID: st.DeviceID, Token: ans.Token, AccountID: ans.AccountID, ID: ans.ID, DPoPKey: keyDER}
			if err := st.save(path); err != nil {
				return err
			}
			fmt.Fprintf(p.app.stdout, "Signed in to %s as %s (account %s) on device %s.\n", c.issuer, username, ans.AccountID, st.DeviceID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&issuer, "issuer", "", "issuer URL of the qrid provider (required)")
	f.StringVar(&username, "username", "", "username (required)")
	f.StringVar(&deviceName, "device-name", "", "name of this device in the device list (default: the host name)")
	noEnv(f, "username", "device-name")
	return cmd
}

// checkIssuer checks an --issuer flag.
func checkIssuer(issuer string) error {
	if issuer == "" {
		return errors.New("--issuer is required")
	}
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--issuer %q must be an http(s) URL such as https://id.example.com", issuer)
	}
	return nil
}

// readLoginPassword asks once without echo on a terminal, else reads the first line
// of standard input.
func (a *app) readLoginPassword() (string, error) {
	if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(a.stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		if len(b) == 0 {
			return "", errors.New("the password must not be empty")
		}
		return string(b), nil
	}
	return a.readPassword() // not a terminal: the first line of standard input
}

func defaultDeviceName() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return "qrid phone on " + h
	}
	return "qrid phone"
}

func (p *phoneCmd) newScanCmd() *cobra.Command {
	var userCode string
	cmd := &cobra.Command{
		Use:   "scan CONTENT|FILE.png",
		Short: "Scan a QR code (its text, or a PNG image of it) and show what it asks",
		Long: "Send a scanned QR code to the mobile API and show what the phone would show: the\n" +
			"client asking, the scopes, where and when the request came from, and the numbers\n" +
			"to pick from when number matching is on. The argument is the QR code's text, or a\n" +
			"PNG file holding the QR code; --user-code sends a typed code instead. Then run\n" +
			"qrid phone approve or qrid phone deny.",
		Example: "  qrid phone scan https://id.example.com/q/3bX...\n" +
			"  qrid phone scan qr.png\n" +
			"  qrid phone scan --user-code BDWP-HQPK",
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case userCode != "" && len(args) > 0:
				return usageError{errors.New("give either a QR code or --user-code, not both")}
			case userCode == "" && len(args) == 0:
				return usageError{errors.New("missing CONTENT|FILE.png (or --user-code CODE)")}
			case len(args) > 1:
				return usageError{fmt.Errorf("unexpected argument %q", args[1])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]string{}
			if userCode != "" {
				body["user_code"] = strings.TrimSpace(userCode)
			} else {
				content, err := scannedText(args[0])
				if err != nil {
					return err
				}
				body["qr"] = content
			}
			path, st, c, err := p.signedIn()
			if err != nil {
				return err
			}
			var ans scanAnswer
			if err := c.do(cmd.Context(), http.MethodPost, "/qr/scan", body, &ans); err != nil {
				return err
			}
			if ans.ConfirmToken == "" {
				return errors.New("the mobile API answered the scan without a confirm_token")
			}
			st.Pending = &pendingConfirm{
				ConfirmToken: ans.ConfirmToken,
				ClientName:   ans.Client.Name,
				MatchChoices: ans.MatchChoices,
			}
			if ans.ExpiresIn > 0 {
				st.Pending.ExpiresAt = time.Now().Add(time.Duration(ans.ExpiresIn) * time.Second).UTC().Truncate(time.Second)
			}
			if err := st.save(path); err != nil {
				return err
			}
			ans.print(p.app.stdout)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&userCode, "user-code", "", "the code shown next to the QR code, typed instead of scanning")
	noEnv(f, "user-code")
	return cmd
}

// scannedText is the QR code's text: arg itself, or the QR code in the PNG file arg
// names when such a file exists.
func scannedText(arg string) (string, error) {
	if st, err := os.Stat(arg); err == nil && st.Mode().IsRegular() {
		return decodeQRFile(arg)
	}
	if strings.TrimSpace(arg) == "" {
		return "", usageError{errors.New("the QR code's content must not be empty")}
	}
	if strings.HasSuffix(strings.ToLower(arg), ".png") {
		return "", fmt.Errorf("no such file: %s", arg)
	}
	return arg, nil
}

// scanAnswer is the answer of POST /qr/scan.
type scanAnswer struct {
	ConfirmToken string `json:"confirm_token"`
	ExpiresIn    int64  `json:"expires_in"`
	Client       struct {
		ClientID   string `json:"client_id"`
		Name       string `json:"name"`
		LogoURI    string `json:"logo_uri"`
		ClientURI  string `json:"client_uri"`
		FirstParty bool   `json:"first_party"`
	} `json:"client"`
	Scopes    []string `json:"scopes"`
	Requester struct {
		IP          string    `json:"ip"`
		UserAgent   string    `json:"user_agent"`
		CreatedAt   time.Time `json:"created_at"`
		SameNetwork *bool     `json:"same_network"`
	} `json:"requester"`
	MatchChoices []matchNumber `json:"match_choices"`
}

// print shows the scan as the phone's confirmation screen would.
func (s *scanAnswer) print(w io.Writer) {
	name := s.Client.Name
	if name == "" {
		name = s.Client.ClientID
	}
	if u, err := url.Parse(s.Client.ClientURI); err == nil && u.Host != "" {
		name += " (" + u.Host + ")"
	}
	if s.Client.FirstParty {
		name += " [first party]"
	}
	fmt.Fprintf(w, "%s wants to sign you in.\n", name)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	scopes := strings.Join(s.Scopes, ", ")
	if scopes == "" {
		scopes = "(none)"
	}
	fmt.Fprintf(tw, "  Access:\t%s\n", scopes)
	fmt.Fprintf(tw, "  From:\t%s\n", orUnknown(s.Requester.IP))
	if s.Requester.SameNetwork != nil && !*s.Requester.SameNetwork {
		fmt.Fprintf(tw, "  Warning:\t%s\n", "started on another network than this phone's: only continue if you started it yourself")
	}
	fmt.Fprintf(tw, "  Browser or app:\t%s\n", orUnknown(s.Requester.UserAgent))
	if !s.Requester.CreatedAt.IsZero() {
		fmt.Fprintf(tw, "  Asked at:\t%s\n", s.Requester.CreatedAt.Local().Format("2006-01-02 15:04:05 MST"))
	}
	_ = tw.Flush()
	if len(s.MatchChoices) > 0 {
		choices := make([]string, len(s.MatchChoices))
		for i, c := range s.MatchChoices {
			choices[i] = string(c)
		}
		fmt.Fprintf(w, "Which number does the other screen show? %s\n", strings.Join(choices, "   "))
		fmt.Fprintln(w, "Approve with: qrid phone approve --match NN    Refuse with: qrid phone deny")
	} else {
		fmt.Fprintln(w, "Approve with: qrid phone approve    Refuse with: qrid phone deny")
	}
	if s.ExpiresIn > 0 {
		fmt.Fprintf(w, "Decide within %s.\n", time.Duration(s.ExpiresIn)*time.Second)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

func (p *phoneCmd) newConfirmCmd(approve bool) *cobra.Command {
	var match string
	cmd := &cobra.Command{
		Use:   "deny",
		Short: "Refuse the scanned sign-in",
		Args:  noArgs,
	}
	if approve {
		cmd.Use = "approve [--match NN]"
		cmd.Short = "Approve the scanned sign-in (--match: the number the other screen shows)"
		cmd.Flags().StringVar(&match, "match", "", "the number the other screen shows, when number matching is on")
		noEnv(cmd.Flags(), "match")
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		path, st, c, err := p.signedIn()
		if err != nil {
			return err
		}
		pend := st.Pending
		if pend == nil {
			return errors.New("no scanned sign-in is waiting: run qrid phone scan first")
		}
		body := map[string]any{"confirm_token": pend.ConfirmToken, "approve": approve}
		if approve {
			match = strings.TrimSpace(match)
			choices := make([]string, len(pend.MatchChoices))
			for i, c := range pend.MatchChoices {
				choices[i] = string(c)
			}
			switch {
			case len(choices) > 0 && match == "":
				return usageError{fmt.Errorf("this sign-in uses number matching: give the number the other screen shows with --match (one of %s)", strings.Join(choices, ", "))}
			case len(choices) > 0 && !slices.Contains(choices, match):
				return usageError{fmt.Errorf("--match %s is not one of the numbers offered: %s", match, strings.Join(choices, ", "))}
			case len(choices) == 0 && match != "":
				return usageError{errors.New("this sign-in does not use number matching: approve without --match")}
			}
			if match != "" {
				body["match"] = match
			}
		}
		var ans struct {
			Status string `json:"status"`
		}
		err = c.do(cmd.Context(), http.MethodPost, "/qr/confirm", body, &ans)
		var apiErr *apiError
		if err == nil || errors.As(err, &apiErr) {
			// The server has used up the confirm token either way.
			st.Pending = nil
			if serr := st.save(path); serr != nil && err == nil {
				err = serr
			}
		}
		if err != nil {
			return err
		}
		switch ans.Status {
		case "approved":
			fmt.Fprintln(p.app.stdout, "Approved: the other screen is signing in.")
		case "denied":
			fmt.Fprintln(p.app.stdout, "Denied: the sign-in was refused.")
		default:
			fmt.Fprintf(p.app.stdout, "Status: %s\n", ans.Status)
		}
		return nil
	}
	return cmd
}

func (p *phoneCmd) newDevicesCmd() *cobra.Command {
	var revoke string
	cmd := &cobra.Command{
		Use:   "devices [--revoke ID]",
		Short: "List the devices signed in to this account, or revoke one",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, st, c, err := p.signedIn()
			if err != nil {
				return err
			}
			if revoke != "" {
				if err := c.do(cmd.Context(), http.MethodDelete, "/devices/"+url.PathEscape(revoke), nil, nil); err != nil {
					return err
				}
				fmt.Fprintf(p.app.stdout, "Revoked device %s.\n", revoke)
				if revoke == st.ID {
					*st = phoneState{Issuer: st.Issuer, DeviceID: st.DeviceID}
					if err := st.save(path); err != nil {
						return err
					}
					fmt.Fprintln(p.app.stdout, "That was this device: it is signed out.")
				}
				return nil
			}
			var ans struct {
				Devices []struct {
					ID         string    `json:"id"`
					DeviceID   string    `json:"device_id"`
					DeviceType string    `json:"device_type"`
					Name       string    `json:"name"`
					CreatedAt  time.Time `json:"created_at"`
					LastSeenAt time.Time `json:"last_seen_at"`
					Current    bool      `json:"current"`
				} `json:"devices"`
			}
			if err := c.do(cmd.Context(), http.MethodGet, "/devices", nil, &ans); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(p.app.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tTYPE\tDEVICE ID\tSIGNED IN\tLAST SEEN\t")
			for _, d := range ans.Devices {
				id := d.ID
				if d.Current {
					id += " (this device)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", id, d.Name, d.DeviceType, d.DeviceID, when(d.CreatedAt), when(d.LastSeenAt))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&revoke, "revoke", "", "revoke the device with this ID (from the ID column)")
	noEnv(cmd.Flags(), "revoke")
	return cmd
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func (p *phoneCmd) newLogoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Sign this phone out: the device token stops working",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, st, c, err := p.signedIn()
			if err != nil {
				return err
			}
			err = c.do(cmd.Context(), http.MethodPost, "/logout", nil, nil)
			var apiErr *apiError
			if err != nil && !(errors.As(err, &apiErr) && apiErr.Code == "unauthorized") {
				return err
			}
			// Signed out, or the token was already revoked: forget it either way.
			*st = phoneState{Issuer: st.Issuer, DeviceID: st.DeviceID}
			if err := st.save(path); err != nil {
				return err
			}
			fmt.Fprintln(p.app.stdout, "Signed out.")
			return nil
		},
	}
}

// mobileClient calls the mobile API as one device.
type mobileClient struct {
	issuer   string
	token    string // empty before login
	deviceID string
	// key signs a DPoP proof for every call (RFC 9449); nil sends none and the
	// token as Bearer.
	key  *ecdsa.PrivateKey
	http *http.Client
}

// client is a mobile API client for the signed-in device.
func (st *phoneState) client() (*mobileClient, error) {
	key, err := st.dpopKey()
	if err != nil {
		return nil, err
	}
	return &mobileClient{issuer: st.Issuer, token: st.Token, deviceID: st.DeviceID, key: key, http: newMobileHTTP()}, nil
}

func newMobileHTTP() *http.Client {
	return &http.Client{
		Timeout: time.Minute,
		// The mobile API never redirects; following one would send the token elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// do sends body (nil: none) as JSON to the mobile API and decodes a 2xx answer into
// out (nil: ignored). An error answer is an *apiError.
func (c *mobileClient) do(ctx context.Context, method, path string, body, out any) error {
	endpoint := c.issuer + mobileAPIPath + path
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint, r)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != nil {
		// A fresh proof for this call: its htu is the endpoint without a query
		// (RFC 9449 §4.2), its ath the token's hash once there is a token.
		proof, err := dpop.NewProof(c.key, method, endpoint, c.token, time.Now())
		if err != nil {
			return err
		}
		req.Header.Set(dpop.HeaderName, proof)
	}
	if c.token != "" {
		scheme := "Bearer"
		if c.key != nil {
			scheme = dpop.Scheme
		}
		req.Header.Set("Authorization", scheme+" "+c.token)
		req.Header.Set("X-Device-Id", c.deviceID)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("cannot reach the mobile API at %s: %v", c.issuer+mobileAPIPath, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading the answer of %s %s: %w", method, endpoint, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil || (resp.StatusCode == http.StatusNoContent && len(bytes.TrimSpace(data)) == 0) {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("the mobile API answered %s %s with something that is not the expected JSON: %v", method, path, err)
		}
		return nil
	}
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		if e.Message == "" {
			e.Message = "the mobile API refused the request"
		}
		err := &apiError{Status: resp.StatusCode, Code: e.Error, Message: e.Message}
		if e.Error == "unauthorized" && c.token != "" {
			return fmt.Errorf("%w; sign in again with qrid phone login", err)
		}
		return err
	}
	return fmt.Errorf("unexpected answer from %s: HTTP %d: %s", endpoint, resp.StatusCode, shortText(data, resp.StatusCode))
}
