package loadtest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func noAdmin(context.Context, string, string, []byte) ([]byte, error) { return nil, nil }

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	ok := func() Config {
		return Config{Mode: ModeLogin, Issuer: "http://127.0.0.1:8080", Admin: noAdmin, Concurrency: 1}
	}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   []string // each must be in the error; none: valid
	}{
		{"ok", func(*Config) {}, nil},
		{"fail/unknown mode", func(c *Config) { c.Mode = "storm" }, []string{`unknown mode "storm"`}},
		{"fail/issuer", func(c *Config) { c.Issuer = "localhost:8080" }, []string{"the issuer"}},
		{"fail/issuer with a trailing slash", func(c *Config) { c.Issuer += "/" }, []string{"must not end with a slash"}},
		{"fail/every problem at once", func(c *Config) { c.Concurrency, c.Count, c.Admin = 0, -1, nil },
			[]string{"concurrency must be at least 1", "count must not be negative", "no admin API"}},
		{"fail/hold takes no count", func(c *Config) { c.Mode, c.Count = ModeHold, 5 }, []string{"takes no count"}},
		{"ok/phones on another node", func(c *Config) { c.PhoneAddr = "127.0.0.1:8090" }, nil},
		{"fail/phones' address", func(c *Config) { c.PhoneAddr = "http://127.0.0.1:8090" }, []string{"is not host:port"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok()
			tc.change(&cfg)
			err := cfg.check()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("check accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg := Config{Mode: ModePoll, Issuer: "http://127.0.0.1:8080", Admin: noAdmin, Concurrency: 1}
	if err := cfg.check(); err != nil {
		t.Fatal(err)
	}
	if cfg.Duration != 10*time.Second || cfg.Sessions != DefaultSessions || cfg.Holds != DefaultHolds ||
		cfg.MetricsURL != "http://127.0.0.1:8080/metrics" {
		t.Errorf("defaults: %+v", cfg)
	}
	counted := Config{Mode: ModeLogin, Issuer: "http://127.0.0.1:8080", Admin: noAdmin, Concurrency: 1, Count: 5}
	if err := counted.check(); err != nil || counted.Duration != 0 {
		t.Errorf("a counted run got duration %v (%v), want none", counted.Duration, err)
	}
}

// TestWireToAnotherNode: a wire made for another node reaches it with the issuer's
// URLs, as a phone behind a load balancer does.
func TestWireToAnotherNode(t *testing.T) {
	t.Parallel()
	var host string
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { host = r.Host }))
	defer node.Close()
	w := newWireTo(1, node.Listener.Addr().String())
	defer w.close()
	req, err := http.NewRequest(http.MethodGet, "http://id.example:8080/api/mobile/v1/devices", nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if status, err := w.send(req, &buf); err != nil || status != http.StatusOK {
		t.Fatalf("request through the wire to the node: %d, %v", status, err)
	}
	if host != "id.example:8080" {
		t.Errorf("the node saw Host %q, want the issuer's id.example:8080", host)
	}
}
