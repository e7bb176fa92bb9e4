package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

const defaultEndpoint = "http://127.0.0.1:8081"

// adminFlags are the connection flags of the admin commands.
type adminFlags struct {
	endpoint string
	token    string
}

// addAdminFlags adds --endpoint and --admin-token to a command group.
func (f *adminFlags) add(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.endpoint, "endpoint", defaultEndpoint, "URL of qrid's admin listener")
	cmd.PersistentFlags().StringVar(&f.token, "admin-token", "", "admin API token (better given as QRID_ADMIN_TOKEN)")
}

// client checks the connection flags and returns a client of the admin API.
func (f *adminFlags) client() (*adminClient, error) {
	u, err := url.Parse(f.endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError{fmt.Errorf("--endpoint %q must be an http(s) URL such as %s", f.endpoint, defaultEndpoint)}
	}
	if f.token == "" {
		return nil, usageError{errors.New("no admin token: set QRID_ADMIN_TOKEN (or --admin-token)")}
	}
	return &adminClient{
		endpoint: strings.TrimRight(f.endpoint, "/"),
		token:    f.token,
		http: &http.Client{
			Timeout: time.Minute,
			// The admin API never redirects; following one would be a surprise.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// adminClient calls qrid's admin HTTP API.
type adminClient struct {
	endpoint string
	token    string
	http     *http.Client
}

// apiError is an error answer of the admin API.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (%s, HTTP %d)", e.Message, e.Code, e.Status)
}

// do sends body (nil: none) as JSON and returns the answer's body on a 2xx status.
func (c *adminClient) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+path, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.connError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s %s: %w", method, c.endpoint+path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return data, nil
	}
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		if e.Message == "" {
			e.Message = "the admin API refused the request"
		}
		return nil, &apiError{Status: resp.StatusCode, Code: e.Error, Message: e.Message}
	}
	text := strings.TrimSpace(string(data))
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	if text == "" {
		text = http.StatusText(resp.StatusCode)
	}
	return nil, fmt.Errorf("unexpected answer from %s: HTTP %d: %s", c.endpoint, resp.StatusCode, text)
}

// connError explains a failure to reach the admin API.
func (c *adminClient) connError(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	hint := "point --endpoint (or QRID_ENDPOINT) at the admin listener of qrid serve (its --admin-addr)"
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("cannot connect to the admin API at %s (connection refused). Is qrid serve running? If so, %s", c.endpoint, hint)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Errorf("cannot resolve the admin API host %q: %s", dnsErr.Name, hint)
	}
	return fmt.Errorf("cannot reach the admin API at %s: %v (%s)", c.endpoint, err, hint)
}

// printJSON writes a JSON answer indented to w; an empty answer prints nothing.
func printJSON(w io.Writer, data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	var out bytes.Buffer
	if err := json.Indent(&out, data, "", "  "); err != nil {
		return fmt.Errorf("the admin API answered something that is not JSON: %.200s", data)
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}

// call sends a request and prints the JSON answer to the command's output.
func (a *app) call(cmd *cobra.Command, f *adminFlags, method, path string, body []byte) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	data, err := c.do(cmd.Context(), method, path, body)
	if err != nil {
		return err
	}
	return printJSON(a.stdout, data)
}

// idPath is path followed by the escaped id.
func idPath(path, id string) string { return path + "/" + url.PathEscape(id) }

// adminCall is a subcommand that makes one admin API call and prints the answer.
// use names the command and, after a space, its one argument (an ID); path builds
// the API path from the arguments.
func (a *app) adminCall(conn *adminFlags, use, short, method string, path func(args []string) string) *cobra.Command {
	args := noArgs
	if _, arg, ok := strings.Cut(use, " "); ok {
		args = idArg(arg)
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args,
		RunE: func(cmd *cobra.Command, argv []string) error {
			return a.call(cmd, conn, method, path(argv), nil)
		},
	}
}
