package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qrid/qrid/provider/dpop"
)

// TestPhoneDPoP: qrid phone login makes a key, keeps it in the state file and binds
// the token to it; every later call sends the token as DPoP with a fresh proof for
// that call, signed by that key.
func TestPhoneDPoP(t *testing.T) {
	t.Parallel()
	f := newFakeMobile(t, map[string]cannedAnswer{
		"POST /api/mobile/v1/login":   {200, `{"token":"device-token-1","token_type":"DPoP","account_id":"acc-1","device_id":"DEVICE","id":"dev-1"}`},
		"POST /api/mobile/v1/qr/scan": {200, scanAnswerJSON},
		"GET /api/mobile/v1/devices":  {200, `{"devices":[]}`},
	})
	path := filepath.Join(t.TempDir(), "phone.json")
	if r := runQrid(t, nil, "pw\n", "phone", "login", "--state", path, "--issuer", f.URL, "--username", "alice"); r.code != 0 {
		t.Fatalf("login: exit %d\n%s", r.code, r.stderr)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, %v; want mode 0600", info, err)
	}
	st := readState(t, path)
	key, err := st.dpopKey()
	if err != nil || key == nil {
		t.Fatalf("state holds no DPoP key: %v", err)
	}
	thumbprint, err := dpop.Thumbprint(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"scan", "--user-code", "BDWP-HQPK"}, {"devices"}, {"devices"}} {
		if r := runQrid(t, nil, "", append([]string{"phone", "--state", path}, args...)...); r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
	}

	reqs := f.all()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4: %+v", len(reqs), reqs)
	}
	jtis := map[string]bool{}
	for i, r := range reqs {
		token := ""
		if i > 0 {
			token = "device-token-1"
			if r.auth != "DPoP device-token-1" || r.deviceID != st.DeviceID {
				t.Errorf("%s %s: Authorization %q, X-Device-Id %q; want the token as DPoP", r.method, r.path, r.auth, r.deviceID)
			}
		}
		p, err := dpop.Verify(r.dpop, dpop.Request{Method: r.method, URL: f.URL + r.path, AccessToken: token, Now: time.Now()})
		if err != nil {
			t.Errorf("%s %s: proof refused: %v", r.method, r.path, err)
			continue
		}
		if p.Thumbprint != thumbprint {
			t.Errorf("%s %s: proof signed by another key than the state's", r.method, r.path)
		}
		if jtis[p.JTI] {
			t.Errorf("%s %s: jti reused", r.method, r.path)
		}
		jtis[p.JTI] = true
	}

	// Logging out forgets the key with the token.
	f.mu.Lock()
	f.answers["POST /api/mobile/v1/logout"] = cannedAnswer{204, ""}
	f.mu.Unlock()
	if r := runQrid(t, nil, "", "phone", "--state", path, "logout"); r.code != 0 {
		t.Fatalf("logout: exit %d\n%s", r.code, r.stderr)
	}
	if st := readState(t, path); len(st.DPoPKey) != 0 || st.Token != "" {
		t.Errorf("state after logout keeps %+v", st)
	}
}

// TestPhoneLoginWithoutDPoPServer: a server that answers a bearer token is used
// with bearer tokens, with a warning.
func TestPhoneLoginWithoutDPoPServer(t *testing.T) {
	t.Parallel()
	f := newFakeMobile(t, map[string]cannedAnswer{"POST /api/mobile/v1/login": {200, loginAnswer}})
	path := filepath.Join(t.TempDir(), "phone.json")
	r := runQrid(t, nil, "pw\n", "phone", "login", "--state", path, "--issuer", f.URL, "--username", "alice")
	if r.code != 0 || !strings.Contains(r.stderr, "plain bearer token") {
		t.Fatalf("exit %d, stderr %q; want success with a warning", r.code, r.stderr)
	}
	if st := readState(t, path); len(st.DPoPKey) != 0 {
		t.Error("a bearer token was saved with a DPoP key")
	}
}
