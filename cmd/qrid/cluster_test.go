package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pgCluster is a PostgreSQL cluster of one test's own, made with initdb and run with
// pg_ctl, so that the test may stop and start it without touching the server other
// tests share. It listens on 127.0.0.1 on a port of its own, with trust
// authentication for the postgres role, and is stopped (immediate mode) and deleted
// when the test ends, whether it passed or not.
type pgCluster struct {
	t       *testing.T
	binDir  string // where initdb and pg_ctl are
	dir     string // holds data/, the server's socket and its log
	port    int
	runAsPG *syscall.Credential // the postgres OS user, when the test runs as root
}

// pgClusterUnavailable skips t loudly, or fails it when QRID_REQUIRE_POSTGRES=1.
func pgClusterUnavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := "!!! " + fmt.Sprintf(format, args...)
	if os.Getenv("QRID_REQUIRE_POSTGRES") == "1" {
		t.Fatalf("%s (QRID_REQUIRE_POSTGRES=1)", msg)
	}
	t.Skipf("%s\n!!! SKIPPING this test, which needs a PostgreSQL cluster of its own; QRID_REQUIRE_POSTGRES=1 makes this a failure.", msg)
}

// postgresBinDir finds the directory of initdb and pg_ctl: on the PATH, else the
// newest /usr/lib/postgresql/<version>/bin (Debian and Ubuntu do not put them on
// the PATH).
func postgresBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) int {
		v, _, _ := strings.Cut(filepath.Base(filepath.Dir(dir)), ".")
		n, _ := strconv.Atoi(v)
		return n
	}
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, dir := range dirs {
		_, errInit := os.Stat(filepath.Join(dir, "initdb"))
		_, errCtl := os.Stat(filepath.Join(dir, "pg_ctl"))
		if errInit == nil && errCtl == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("initdb and pg_ctl are neither on the PATH nor in /usr/lib/postgresql/*/bin")
}

// newPGCluster makes and starts a cluster. PostgreSQL refuses to run as root, so a
// test running as root runs initdb and pg_ctl as the postgres OS user.
func newPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	binDir, err := postgresBinDir()
	if err != nil {
		pgClusterUnavailable(t, "%v", err)
	}
	c := &pgCluster{t: t, binDir: binDir, port: freePort(t)}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			pgClusterUnavailable(t, "running as root, but there is no postgres OS user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		c.runAsPG = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}

	// Not t.TempDir: its parents are private to root, and the server must reach
	// its directory. The directory belongs to whoever runs the server.
	c.dir, err = os.MkdirTemp("", "qrid-pgcluster-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(c.dir); err != nil {
			t.Errorf("removing the cluster: %v", err)
		}
	})
	if c.runAsPG != nil {
		if err := os.Chown(c.dir, int(c.runAsPG.Uid), int(c.runAsPG.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := c.command("initdb", "-D", c.dataDir(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	// Registered before the start, so that a start that fails half-way is stopped
	// too; runs before the directory is removed (cleanups run last first).
	t.Cleanup(func() {
		if !c.running() {
			return
		}
		if out, err := c.command("pg_ctl", "-D", c.dataDir(), "-m", "immediate", "-w", "stop").CombinedOutput(); err != nil {
			t.Errorf("stopping the cluster: %v\n%s", err, out)
		}
	})
	c.start()
	return c
}

func (c *pgCluster) dataDir() string { return filepath.Join(c.dir, "data") }
func (c *pgCluster) logFile() string { return filepath.Join(c.dir, "postgres.log") }

// URL is the database URL of the cluster's postgres database.
func (c *pgCluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// command is a PostgreSQL program of the cluster, run as the postgres OS user when
// the test runs as root.
func (c *pgCluster) command(program string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.binDir, program), args...)
	cmd.Dir = c.dir // the postgres user may not be able to enter the test's directory
	if c.runAsPG != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.runAsPG}
	}
	return cmd
}

// start starts the server on the cluster's port and waits until it accepts
// connections. The server writes its log to a file (pg_ctl -l), so that it keeps
// none of the test's pipes open.
func (c *pgCluster) start() {
	c.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off", c.port, c.dir)
	if out, err := c.command("pg_ctl", "-D", c.dataDir(), "-l", c.logFile(), "-o", opts, "-w", "-t", "30", "start").CombinedOutput(); err != nil {
		c.t.Fatalf("pg_ctl start: %v\n%s\nserver log:\n%s", err, out, c.log())
	}
}

// stop stops the server in the given pg_ctl mode (smart, fast or immediate) and
// waits until it has stopped.
func (c *pgCluster) stop(mode string) {
	c.t.Helper()
	if out, err := c.command("pg_ctl", "-D", c.dataDir(), "-m", mode, "-w", "-t", "30", "stop").CombinedOutput(); err != nil {
		c.t.Fatalf("pg_ctl stop -m %s: %v\n%s", mode, err, out)
	}
}

// running reports whether the server runs (pg_ctl status exits 0).
func (c *pgCluster) running() bool {
	return c.command("pg_ctl", "-D", c.dataDir(), "status").Run() == nil
}

// log is the server's log so far, for failure messages.
func (c *pgCluster) log() string {
	b, err := os.ReadFile(c.logFile())
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// freePort returns a TCP port of 127.0.0.1 that nothing listened on a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitUntil calls cond every few milliseconds until it is true, and fails the test
// if it is not within deadline.
func waitUntil(t *testing.T, deadline time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(deadline)
	for !cond() {
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("waited %s for %s", deadline, what)
		}
	}
}
