package provider_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/qrid/qrid/provider"
	"github.com/qrid/qrid/storage/memory"
)

// TestRateLimitsOff: with NoRateLimits (serve --rate-limits=false, for load tests)
// one address may start far more QR sessions than the per-address limit allows, and
// one account may scan far more than its per-account limit, which the default
// configuration refuses (TestThreatResourceExhaustion, the mobile limit tests).
func TestRateLimitsOff(t *testing.T) {
	q := newQREnvConfig(t, memory.New(), func(cfg *provider.Config) { cfg.NoRateLimits = true })
	ph := q.newPhone(t, "alice", testPassword, "load-phone")
	for i := range 150 {
		status, body := q.postForm(t, "/oauth2/device/auth", q.shell, url.Values{"scope": {"openid"}})
		if status != http.StatusOK {
			t.Fatalf("device authorization %d with rate limits off: %d %s", i+1, status, body)
		}
		if i >= 30 {
			continue
		}
		a := q.authorize(t, q.shell, "openid")
		if got := ph.scan(t, a.VerificationURIComplete); got.Status != http.StatusOK {
			t.Fatalf("scan %d with rate limits off: %d %s", i+1, got.Status, got.Error)
		}
	}
}
