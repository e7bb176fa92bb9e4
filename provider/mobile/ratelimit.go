package mobile

import (
	"time"

	"github.com/qrid/qrid/provider/ratelimit"
)

// Limit is a rate: one attempt more every Every, at most Burst at once (see
// provider/ratelimit).
type Limit = ratelimit.Limit

// The default limits (see the package documentation).
var (
	DefaultLoginPerAccount = Limit{Every: 12 * time.Second, Burst: 5} // 5 a minute
	DefaultLoginPerIP      = Limit{Every: 3 * time.Second, Burst: 20} // 20 a minute
	DefaultScanPerAccount  = Limit{Every: 6 * time.Second, Burst: 10} // 10 a minute
)

// DefaultMaxLimiterKeys bounds the keys (usernames, IP addresses, accounts) each
// limiter remembers.
const DefaultMaxLimiterKeys = ratelimit.DefaultMaxKeys

// newLimiter returns a limiter of l, or of def when l is unset.
func newLimiter(l Limit, def Limit, max int) *ratelimit.Limiter {
	if l.Every <= 0 || l.Burst <= 0 {
		l = def
	}
	return ratelimit.New(l, max)
}
