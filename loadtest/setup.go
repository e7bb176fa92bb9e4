package loadtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/qrid/qrid/provider/dpop"
)

// mobileAPIPath is where the mobile API lives under the issuer.
const mobileAPIPath = "/api/mobile/v1"

// benchScopes are the scopes the bench client may ask for.
const benchScopes = "openid profile email offline_access"

// rateLimitHint tells how to start a server for load tests.
const rateLimitHint = "the server limits rates per address, account and client and caps the long-polls an address holds; " +
	"for a load test start it with qrid serve --rate-limits=false (QRID_RATE_LIMITS=false)"

// discover reads the server's discovery document and prepares the relying party.
func (r *run) discover(ctx context.Context) error {
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, r.wire.http), r.cfg.Issuer)
	if err != nil {
		var mismatch *oidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			return fmt.Errorf("the server at %s says its issuer is %q: give that as the issuer", r.cfg.Issuer, mismatch.Discovered)
		}
		return fmt.Errorf("cannot reach qrid at %s: %v (is qrid serve running, and is this its issuer URL?)", r.cfg.Issuer, rootCause(err))
	}
	var meta struct {
		DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		return fmt.Errorf("reading the discovery document of %s: %w", r.cfg.Issuer, err)
	}
	if meta.DeviceAuthorizationEndpoint == "" {
		return fmt.Errorf("the server at %s announces no device_authorization_endpoint: it is not a qrid", r.cfg.Issuer)
	}
	r.rp = &relyingParty{
		wire:          r.wire,
		deviceAuthURL: meta.DeviceAuthorizationEndpoint,
		tokenURL:      provider.Endpoint().TokenURL,
	}
	r.provider = provider
	return nil
}

// rootCause is the innermost error of a failed request, which says what went wrong
// (connection refused, no such host) without the URL repeated.
func rootCause(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return errors.New("connection refused")
	}
	return err
}

// fixture is what setup created, for cleanup.
type fixture struct {
	clientID string
	// userIDs are the users created; an entry is "" until its user exists.
	userIDs []string
}

// adminJSON calls the admin API with v as the JSON body and decodes the answer
// into out (nil: ignored).
func (r *run) adminJSON(ctx context.Context, method, path string, v, out any) error {
	var body []byte
	if v != nil {
		var err error
		if body, err = json.Marshal(v); err != nil {
			return err
		}
	}
	data, err := r.cfg.Admin(ctx, method, path, body)
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("the admin API answered %s %s with something that is not the expected JSON: %v", method, path, err)
		}
	}
	return nil
}

// registerClient registers the run's client: first-party (no consent, no number
// matching), confidential, with the grants of every mode.
func (r *run) registerClient(ctx context.Context) error {
	var info struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	err := r.adminJSON(ctx, http.MethodPost, "/admin/v1/clients", map[string]any{
		"client_id":                  "qrid-bench-" + r.runID,
		"client_name":                "qrid bench " + r.runID,
		"grant_types":                []string{grantTypeDeviceCode, "refresh_token", "client_credentials"},
		"scope":                      benchScopes,
		"token_endpoint_auth_method": "client_secret_basic",
		"first_party":                true,
	}, &info)
	if err != nil {
		return fmt.Errorf("registering the bench client through the admin API: %w", err)
	}
	if info.ClientID == "" || info.ClientSecret == "" {
		return errors.New("the admin API registered the bench client without answering its client_id and client_secret")
	}
	r.fixture.clientID = info.ClientID
	r.rp.clientAuth = basicAuth(info.ClientID, info.ClientSecret)
	r.rp.verifier = r.provider.Verifier(&oidc.Config{ClientID: info.ClientID})
	return nil
}

// setUpPhones creates one user per phone and signs each phone in.
func (r *run) setUpPhones(ctx context.Context, phones []*phone) error {
	r.fixture.userIDs = make([]string, len(phones))
	// Creating a user and signing in each hash a password with argon2id (64 MiB):
	// a few at a time.
	return r.parallel(ctx, len(phones), min(r.cfg.Concurrency, 4), "phones signed in", func(ctx context.Context, i int) error {
		password, err := randomString(18)
		if err != nil {
			return err
		}
		username := fmt.Sprintf("qrid-bench-%s-%d", r.runID, i)
		var user struct {
			ID string `json:"id"`
		}
		if err := r.adminJSON(ctx, http.MethodPost, "/admin/v1/users", map[string]string{
			"username": username,
			"password": password,
			"name":     fmt.Sprintf("qrid bench phone %d", i),
		}, &user); err != nil {
			return fmt.Errorf("creating the user of phone %d through the admin API: %w", i, err)
		}
		r.fixture.userIDs[i] = user.ID
		p, err := r.signIn(ctx, username, password)
		if err != nil {
			return fmt.Errorf("signing phone %d in: %w", i, err)
		}
		phones[i] = p
		return nil
	})
}

// signIn signs a new phone in through the mobile API, with a DPoP-bound token
// unless the run uses bearer tokens.
func (r *run) signIn(ctx context.Context, username, password string) (*phone, error) {
	deviceID, err := randomString(16)
	if err != nil {
		return nil, err
	}
	base := r.cfg.Issuer + mobileAPIPath
	p := &phone{
		wire:       r.phoneWire,
		scanURL:    base + "/qr/scan",
		confirmURL: base + "/qr/confirm",
		deviceID:   deviceID,
	}
	if !r.cfg.BearerTokens {
		if p.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, err
		}
	}
	body, err := json.Marshal(map[string]string{
		"username":    username,
		"password":    password,
		"device_id":   deviceID,
		"device_type": "bench",
		"device_name": "qrid bench",
	})
	if err != nil {
		return nil, err
	}
	code, err := p.post(ctx, base+"/login", body)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the mobile API at %s: %v", base, rootCause(err))
	}
	if code == http.StatusTooManyRequests {
		return nil, fmt.Errorf("the mobile API refused the sign-in with HTTP 429: %s", rateLimitHint)
	}
	if code != http.StatusOK {
		var a oauthAnswer
		_ = json.Unmarshal(p.buf.Bytes(), &a)
		return nil, fmt.Errorf("the mobile API refused the sign-in: HTTP %d %s %s", code, a.Code, a.Message)
	}
	var ans struct {
		Token     string `json:"token"`
		TokenType string `json:"token_type"`
		AccountID string `json:"account_id"`
	}
	if err := json.Unmarshal(p.buf.Bytes(), &ans); err != nil || ans.Token == "" || ans.AccountID == "" {
		return nil, errors.New("the mobile API answered the sign-in without a token and account_id")
	}
	p.token, p.accountID = ans.Token, ans.AccountID
	if p.key != nil && strings.EqualFold(ans.TokenType, dpop.Scheme) {
		p.authorization = dpop.Scheme + " " + ans.Token
	} else {
		p.key = nil // a server that does not bind tokens answers a bearer token
		p.authorization = "Bearer " + ans.Token
	}
	return p, nil
}

// openSessions starts n QR sessions that stay pending.
func (r *run) openSessions(ctx context.Context, n int) ([]deviceAuthorization, error) {
	sessions := make([]deviceAuthorization, n)
	form := "scope=openid"
	err := r.parallel(ctx, n, min(r.cfg.Concurrency, 32), "sessions started", func(ctx context.Context, i int) error {
		var buf bytes.Buffer
		da, f := r.rp.deviceAuth(ctx, form, &buf)
		if f != nil {
			if f.limited {
				return fmt.Errorf("starting QR sessions: the server refused with HTTP 429: %s", rateLimitHint)
			}
			return fmt.Errorf("starting QR sessions: %v", f)
		}
		sessions[i] = da
		return nil
	})
	return sessions, err
}

// parallel runs fn for 0..n-1 on at most width goroutines and returns the first
// error, after which it starts no more. It reports its progress as done/n.
func (r *run) parallel(ctx context.Context, n, width int, what string, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range max(min(width, n), 1) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
				done.Add(1)
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	if r.cfg.ProgressEvery > 0 {
		t := time.NewTicker(r.cfg.ProgressEvery)
		defer t.Stop()
		reported := int64(0)
	wait:
		for {
			select {
			case <-finished:
				break wait
			case <-t.C:
				if d := done.Load(); d != reported {
					r.printf("setup: %d/%d %s\n", d, n, what)
					reported = d
				}
			}
		}
	}
	<-finished
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// cleanup deletes what setup created, even when the run was interrupted.
func (r *run) cleanup(ctx context.Context) error {
	if r.cfg.Keep {
		if r.fixture.clientID != "" {
			r.printf("kept the client %s and %d users (--keep)\n", r.fixture.clientID, len(r.fixture.userIDs))
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	var failed atomic.Int64
	var firstErr error
	var once sync.Once
	note := func(err error) {
		failed.Add(1)
		once.Do(func() { firstErr = err })
	}
	ids := r.fixture.userIDs
	_ = r.parallel(ctx, len(ids), 8, "users deleted", func(ctx context.Context, i int) error {
		if ids[i] != "" {
			if err := r.adminJSON(ctx, http.MethodDelete, "/admin/v1/users/"+url.PathEscape(ids[i]), nil, nil); err != nil {
				note(err)
			}
		}
		return nil
	})
	if r.fixture.clientID != "" {
		if err := r.adminJSON(ctx, http.MethodDelete, "/admin/v1/clients/"+url.PathEscape(r.fixture.clientID), nil, nil); err != nil {
			note(err)
		}
	}
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("cleaning up the bench client %s and its %d users: %d deletions failed, the first with: %w",
			r.fixture.clientID, len(ids), n, firstErr)
	}
	return nil
}

// randomString is n random bytes in unpadded base64url.
func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// newRunID names a run's client and users, so runs never collide.
func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
