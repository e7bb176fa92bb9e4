package provider_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/qrid/qrid/storage/memory"
)

// TestDevicePage: a person without the app types the user code on the web, signs
// in, sees who is asking, picks the number and approves; the PC gets its tokens.
func TestDevicePage(t *testing.T) {
	q := newQREnv(t, memory.New())
	da := q.authorize(t, q.tv, "openid profile")
	b := q.newBrowser()

	resp, page := b.get(q.issuer + "/device")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="user_code"`) || !strings.Contains(page, `name="password"`) {
		t.Fatalf("GET /device = %d:\n%s", resp.StatusCode, page)
	}
	form := hiddenFields(t, page)
	form.Set("user_code", strings.ToLower(da.UserCode))
	form.Set("username", "alice")
	form.Set("password", testPassword)
	resp, page = b.post(q.issuer+"/device", form)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /device = %d:\n%s", resp.StatusCode, page)
	}
	for _, want := range []string{"Living room TV", "tv.example.com", "127.0.0.1", "See your name and username", "Pick the number"} {
		if !strings.Contains(page, want) {
			t.Errorf("the confirmation page does not show %q", want)
		}
	}
	confirm := hiddenFields(t, page)
	confirm.Set("decision", "approve")
	confirm.Set("match", da.MatchCode)
	resp, page = b.post(q.issuer+"/device/confirm", confirm)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "You are signed in") {
		t.Fatalf("confirm = %d:\n%s", resp.StatusCode, page)
	}
	a := q.poll(t, q.tv, da.DeviceCode, 0)
	if a.Status != http.StatusOK || a.IDToken == "" {
		t.Fatalf("poll after web approval = %+v", a)
	}
	idt, err := q.verifier(q.tv.ClientID).Verify(q.ctx(), a.IDToken)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Device string `json:"qrid_device"`
	}
	_ = idt.Claims(&c)
	if idt.Subject != q.user.ID || !strings.HasPrefix(c.Device, "web-") {
		t.Fatalf("sub=%s qrid_device=%q", idt.Subject, c.Device)
	}

	// The same browser, already signed in, follows the /q/ page's link.
	da2 := q.authorize(t, q.shell, "openid")
	qrID := strings.TrimPrefix(da2.VerificationURIComplete, q.issuer+"/q/")
	resp, page = b.get(q.issuer + "/device?qr=" + url.QueryEscape(qrID))
	if resp.StatusCode != http.StatusOK || strings.Contains(page, `name="password"`) || !strings.Contains(page, `name="qr"`) {
		t.Fatalf("GET /device?qr= for a signed-in browser = %d:\n%s", resp.StatusCode, page)
	}
	resp, page = b.post(q.issuer+"/device", hiddenFields(t, page))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "qrid shell") {
		t.Fatalf("POST /device with qr = %d:\n%s", resp.StatusCode, page)
	}
	deny := hiddenFields(t, page)
	deny.Set("decision", "deny")
	if resp, page = b.post(q.issuer+"/device/confirm", deny); !strings.Contains(page, "Sign-in refused") {
		t.Fatalf("deny = %d:\n%s", resp.StatusCode, page)
	}
	if a := q.poll(t, q.shell, da2.DeviceCode, 0); a.Error != "access_denied" {
		t.Fatalf("poll after web denial = %+v", a)
	}
}

func TestDevicePageBadInput(t *testing.T) {
	q := newQREnv(t, memory.New())
	b := q.newBrowser()
	_, page := b.get(q.issuer + "/device")
	form := hiddenFields(t, page)
	form.Set("username", "alice")
	form.Set("password", testPassword)

	t.Run("fail/unknown_code", func(t *testing.T) {
		f := cloneValues(form)
		f.Set("user_code", "BBBB-BBBB")
		resp, page := b.on(t).post(q.issuer+"/device", f)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(page, "not valid") {
			t.Fatalf("status %d:\n%s", resp.StatusCode, page)
		}
	})
	t.Run("fail/wrong_password", func(t *testing.T) {
		other := q.newBrowser().on(t)
		_, page := other.get(q.issuer + "/device")
		f := hiddenFields(t, page)
		f.Set("user_code", "BBBB-BBBB")
		f.Set("username", "alice")
		f.Set("password", "nope")
		if resp, _ := other.post(q.issuer+"/device", f); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("fail/no_csrf", func(t *testing.T) {
		f := cloneValues(form)
		f.Del("csrf")
		f.Set("user_code", "BBBB-BBBB")
		if resp, _ := b.on(t).post(q.issuer+"/device", f); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("fail/confirm_garbage_token", func(t *testing.T) {
		f := url.Values{"csrf": {form.Get("csrf")}, "confirm_token": {"garbage"}, "decision": {"approve"}}
		if resp, _ := b.on(t).post(q.issuer+"/device/confirm", f); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("fail/user_code_brute_force_is_limited", func(t *testing.T) {
		limited := false
		for range 15 {
			f := cloneValues(form)
			f.Set("user_code", "BBBB-BBBB")
			resp, _ := b.on(t).post(q.issuer+"/device", f)
			if resp.StatusCode == http.StatusTooManyRequests {
				if resp.Header.Get("Retry-After") == "" {
					t.Fatal("429 without Retry-After")
				}
				limited = true
				break
			}
		}
		if !limited {
			t.Fatal("15 guesses of a user code from one address were all allowed")
		}
	})
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
