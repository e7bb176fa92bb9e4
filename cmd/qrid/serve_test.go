package main

import (
	"net"
	"strings"
	"testing"
	"time"
)

const goodSecret = "0123456789abcdef0123456789abcdef" // 32 bytes

func TestServeConfigValidation(t *testing.T) {
	t.Parallel()
	valid := serveConfig{
		issuer: "https://id.example.com", addr: ":8080", adminAddr: "127.0.0.1:8081",
		adminToken: "token", secret: goodSecret, qrTTL: 5 * time.Minute, qrInterval: 5 * time.Second,
		logLevel: "info", logFormat: "text",
	}
	tests := []struct {
		name   string
		change func(*serveConfig)
		want   []string // every problem, in order; nil: valid
	}{
		{"ok", func(*serveConfig) {}, nil},
		{"ok/http issuer in dev", func(c *serveConfig) { c.issuer, c.dev = "http://localhost:8080", true }, nil},
		{"ok/issuer with path", func(c *serveConfig) { c.issuer = "https://example.com/id" }, nil},
		{"ok/both listeners on port 0", func(c *serveConfig) { c.addr, c.adminAddr = "127.0.0.1:0", "127.0.0.1:0" }, nil},
		{"ok/same port on two hosts", func(c *serveConfig) { c.addr, c.adminAddr = "10.0.0.1:8080", "127.0.0.1:8080" }, nil},
		{"ok/secret of exactly 32 bytes", func(c *serveConfig) { c.secret = strings.Repeat("x", 32) }, nil},
		{"fail/http issuer without dev", func(c *serveConfig) { c.issuer = "http://id.example.com" },
			[]string{`--issuer "http://id.example.com" must use https (http is only allowed with --dev)`}},
		{"fail/relative issuer", func(c *serveConfig) { c.issuer = "/id" },
			[]string{`--issuer "/id" must be an absolute http(s) URL`}},
		{"fail/issuer query and fragment", func(c *serveConfig) { c.issuer = "https://x.example?a=1#f" },
			[]string{`--issuer "https://x.example?a=1#f" must not have a query`, `must not have a fragment`}},
		{"fail/issuer trailing slash", func(c *serveConfig) { c.issuer = "https://x.example/" },
			[]string{`must not end with a slash`}},
		{"fail/short secret", func(c *serveConfig) { c.secret = strings.Repeat("x", 31) },
			[]string{"--secret is 31 bytes long; it must be 32 bytes or more"}},
		{"fail/same listener", func(c *serveConfig) { c.addr, c.adminAddr = ":8080", "127.0.0.1:8080" },
			[]string{`--admin-addr "127.0.0.1:8080" must differ from --addr ":8080"`}},
		{"fail/bad address", func(c *serveConfig) { c.addr = "8080" },
			[]string{`--addr "8080" is not a host:port address`}},
		{"fail/log settings", func(c *serveConfig) { c.logLevel, c.logFormat = "loud", "xml" },
			[]string{`--log-level: "loud" must be debug, info, warn or error`, `--log-format "xml" must be text or json`}},
		{"fail/every problem at once", func(c *serveConfig) {
			*c = serveConfig{issuer: "http://id.example.com?x", addr: ":8080", adminAddr: ":8080", logLevel: "info", logFormat: "text"}
		}, []string{
			"must use https", "must not have a query", "--secret is required", "--admin-token is required",
			"--admin-addr", "--qr-ttl must be positive", "--qr-interval must be positive",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			tt.change(&cfg)
			err := cfg.validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("validate() = %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("validate() = nil, want %q", tt.want)
			}
			problems, ok := err.(configError)
			if !ok {
				t.Fatalf("validate() = %T, want configError", err)
			}
			if len(problems) != len(tt.want) {
				t.Fatalf("validate() reported %d problems, want %d:\n%v", len(problems), len(tt.want), err)
			}
			for i, want := range tt.want {
				if !strings.Contains(problems[i], want) {
					t.Errorf("problem %d = %q, want it to contain %q", i, problems[i], want)
				}
			}
		})
	}
}

func TestServeReportsEveryProblemOnStderr(t *testing.T) {
	t.Parallel()
	r := runQrid(t, nil, "", "serve", "--issuer", "http://id.example.com", "--secret", "short")
	if r.code != 1 {
		t.Fatalf("exit code = %d, want 1", r.code)
	}
	for _, want := range []string{
		"qrid: invalid configuration:\n",
		"  - --issuer \"http://id.example.com\" must use https",
		"  - --secret is 5 bytes long",
		"  - --admin-token is required",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, r.stderr)
		}
	}
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing", r.stdout)
	}
	if strings.Contains(r.stderr, "goroutine") || strings.Contains(r.stderr, "panic") {
		t.Errorf("stderr looks like a crash:\n%s", r.stderr)
	}
}

func TestFlagsWinOverEnvironment(t *testing.T) {
	t.Parallel()
	a := &app{lookupEnv: mapEnv(map[string]string{
		"QRID_ADDR":         ":2222",
		"QRID_ADMIN_ADDR":   "127.0.0.1:3333",
		"QRID_DEV":          "true",
		"QRID_QR_TTL":       "90s",
		"QRID_ISSUER":       "https://env.example.com",
		"QRID_DATABASE_URL": "postgres://env",
	})}
	serve, _, err := a.newRootCmd().Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.ParseFlags([]string{"--addr", ":1111", "--issuer", "https://flag.example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := a.applyEnv(serve.Flags()); err != nil {
		t.Fatal(err)
	}
	f := serve.Flags()
	for name, want := range map[string]string{
		"addr":         ":1111",                    // flag wins
		"issuer":       "https://flag.example.com", // flag wins
		"admin-addr":   "127.0.0.1:3333",           // from the environment
		"dev":          "true",
		"qr-ttl":       "1m30s",
		"database-url": "postgres://env",
		"qr-interval":  "5s", // default: neither flag nor variable
	} {
		if got := f.Lookup(name).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", name, got, want)
		}
	}
}

func TestEnvironmentReachesServe(t *testing.T) {
	t.Parallel()
	env := map[string]string{"QRID_ISSUER": "ftp://from-env.example", "QRID_SECRET": goodSecret}
	r := runQrid(t, env, "", "serve", "--admin-token", "x")
	if r.code != 1 || !strings.Contains(r.stderr, `--issuer "ftp://from-env.example" must be an absolute http(s) URL`) {
		t.Fatalf("exit %d, stderr:\n%s\nwant the issuer from QRID_ISSUER refused", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "--secret") {
		t.Errorf("QRID_SECRET was not used:\n%s", r.stderr)
	}

	r = runQrid(t, env, "", "serve", "--admin-token", "x", "--issuer", "ftp://from-flag.example")
	if r.code != 1 || !strings.Contains(r.stderr, "from-flag") || strings.Contains(r.stderr, "from-env") {
		t.Fatalf("exit %d, stderr:\n%s\nwant the --issuer flag to win over QRID_ISSUER", r.code, r.stderr)
	}
}

func TestBadEnvironmentValue(t *testing.T) {
	t.Parallel()
	r := runQrid(t, map[string]string{"QRID_QR_TTL": "soon"}, "", "serve")
	if r.code != 1 || !strings.Contains(r.stderr, `qrid: invalid QRID_QR_TTL="soon" (for --qr-ttl)`) {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestBadFlag(t *testing.T) {
	t.Parallel()
	r := runQrid(t, nil, "", "serve", "--qr-ttl", "soon")
	if r.code != 1 || !strings.Contains(r.stderr, `qrid: invalid argument "soon" for "--qr-ttl"`) ||
		!strings.Contains(r.stderr, "Run 'qrid serve --help' for usage.") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	r = runQrid(t, nil, "", "nonsense")
	if r.code != 1 || !strings.Contains(r.stderr, `qrid: unknown command "nonsense" for "qrid"`) {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestServeReportsBusyPort(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	r := runQrid(t, nil, "", "serve", "--dev", "--addr", busy.Addr().String(), "--admin-addr", "127.0.0.1:0")
	want := "qrid: cannot listen on --addr " + busy.Addr().String() + ": "
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Fatalf("exit %d, stderr:\n%s\nwant %q", r.code, r.stderr, want)
	}
}

func TestDevDefaults(t *testing.T) {
	t.Parallel()
	cfg := serveConfig{dev: true, adminToken: "given"}
	gen := cfg.applyDevDefaults()
	if !gen.secret || gen.adminToken {
		t.Errorf("generated = %+v, want a secret only", gen)
	}
	if len(cfg.secret) < 32 || cfg.adminToken != "given" {
		t.Errorf("secret %q, admin token %q", cfg.secret, cfg.adminToken)
	}
	prod := serveConfig{}
	if gen := prod.applyDevDefaults(); gen.secret || gen.adminToken || prod.secret != "" {
		t.Errorf("without --dev nothing is generated, got %+v", gen)
	}
}
