package provider_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"go.uber.org/goleak"
	"golang.org/x/oauth2"

	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
	"github.com/qrid/qrid/storage/postgres"
)

// TestLeakBrowserDisconnect: browsers and RPs that go away in the middle of a wait —
// a login page's event stream, its status long-poll, a token long-poll with wait=25 —
// are let go of by the server: HeldPolls and Watchers return to 0, and once the
// provider is closed no goroutine of it is left.
//
// The subtests run one after the other and the test is not parallel: goroutines
// started by other tests while it runs would count as its leaks.
func TestLeakBrowserDisconnect(t *testing.T) {
	for _, backend := range []struct {
		name     string
		newStore func(t *testing.T) storage.Storage
	}{
		{"memory", func(*testing.T) storage.Storage { return memory.New() }},
		{"postgres", func(t *testing.T) storage.Storage { return postgres.NewTestStore(t) }},
	} {
		t.Run(backend.name, func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			store := backend.newStore(t)
			q := newQREnv(t, store)
			// A transport of its own, so that its idle connections can be closed.
			transport := http.DefaultTransport.(*http.Transport).Clone()
			jar, _ := cookiejar.New(nil)
			b := &browser{t: t, http: &http.Client{Jar: jar, Transport: transport, Timeout: 60 * time.Second,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
			conf := q.oauth2Config(q.web)
			resp, page := b.get(conf.AuthCodeURL("state-leak", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oidc.Nonce("nonce-leak")))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("login page: %d", resp.StatusCode)
			}
			qrID, _ := loginQR(t, page)

			t.Run("ok/event_stream", func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, q.issuer+"/login/qr/"+qrID+"/events", nil)
				resp, err := b.http.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("events: %d", resp.StatusCode)
				}
				// The first status is out: the stream is being watched.
				sc := bufio.NewScanner(resp.Body)
				for sc.Scan() && !strings.HasPrefix(sc.Text(), "data: ") {
				}
				waitCount(t, "the stream counted as watching", q.p.Watchers, 1)
				cancel()
				waitCount(t, "the stream let go of", q.p.Watchers, 0)
			})

			t.Run("ok/status_long_poll", func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, q.issuer+"/login/qr/"+qrID+"/status?since=pending&wait=25", nil)
				done := make(chan error, 1)
				go func() {
					resp, err := b.http.Do(req)
					if err == nil {
						resp.Body.Close()
					}
					done <- err
				}()
				waitCount(t, "the status long-poll held", q.p.Watchers, 1)
				cancel()
				if err := <-done; err == nil {
					t.Fatal("the status long-poll answered although nothing changed")
				}
				waitCount(t, "the status long-poll let go of", q.p.Watchers, 0)
			})

			t.Run("ok/token_long_poll", func(t *testing.T) {
				da := q.authorize(t, q.tv, "openid")
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {da.DeviceCode},
					"client_id": {q.tv.ClientID}, "wait": {"25"}}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, q.issuer+"/oauth2/token", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				done := make(chan error, 1)
				go func() {
					resp, err := b.http.Do(req)
					if err == nil {
						resp.Body.Close()
					}
					done <- err
				}()
				waitCount(t, "the token long-poll held", q.p.HeldPolls, 1)
				cancel()
				if err := <-done; err == nil {
					t.Fatal("the token long-poll answered although nothing changed")
				}
				waitCount(t, "the token long-poll let go of", q.p.HeldPolls, 0)
			})

			if t.Failed() {
				return
			}
			q.srv.Close()
			q.p.Close()
			transport.CloseIdleConnections()
			if err := store.Close(); err != nil {
				t.Fatal(err)
			}
			goleak.VerifyNone(t, ignore)
		})
	}
}

// waitCount waits, with a deadline, until count() is want.
func waitCount(t *testing.T, what string, count func() int64, want int64) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for count() != want {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s: the count is %d, not %d, after 20 s", what, count(), want)
		}
	}
}
