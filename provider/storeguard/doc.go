// Package storeguard keeps qrid answering sensibly while its store (PostgreSQL) is
// unreachable, and lets it recover by itself when the store answers again.
//
// A Guard watches the store and knows at every moment whether it is up or down:
//
//   - While up, it pings the store every Options.CheckEvery (5 s). It also pings at
//     once when told that something went wrong: Report with an error that
//     IsConnectionError recognises (a pgconn connect error, a closed connection, a
//     net.Error, a deadline), or any 5xx answer passing through its Middleware
//     (handlers answer 500/503 when a store call fails). Such nudges are coalesced and
//     at most one ping runs at a time, so a burst of failing requests costs one ping.
//   - Options.FailuresToTrip (2) failed pings in a row mark the store down; after a
//     first failure the next ping is made at once. A single broken pooled connection
//     (the pool drops it when the ping on it fails) therefore never causes an outage,
//     while a store that is really gone is noticed within two pings. Every ping is
//     bounded by Options.PingTimeout (2 s): a store that does not answer at all (a
//     network partition) counts as down too. Any failed ping counts, whatever the
//     error: a store that refuses connections, is shutting down or has run out of
//     connection slots serves nobody.
//   - While down, it pings after Options.RetryMin (1 s), then doubling up to
//     Options.RetryMax (5 s), and marks the store up at the first ping that
//     succeeds. Nothing else has to happen for qrid to recover: pgxpool opens new
//     connections on demand, and the QR change listener reconnects by itself (and
//     resets the hub, since notifications may have been missed).
//
// Middleware gates requests on that state: while the store is down every request is
// answered 503 Service Unavailable with a Retry-After header (the current retry delay,
// in seconds) and the JSON body
//
//	{"error": "temporarily_unavailable", "error_description": "...", "message": "..."}
//
// which is both qrid's JSON API error shape and RFC 6749 §5.2's (the code is the one
// RFC 6749 §4.1.2.1 defines for this situation), so OAuth clients and the mobile app
// read it alike. The exceptions are the paths of Options.Exempt, by default /healthz
// (the process is alive: restarting it would not bring the store back), /metrics (the
// outage must be observable) and /static/ (assets need no store). /readyz is not
// exempt: it answers 503 while the store is down, so load balancers send traffic to
// nodes that can serve it. Requests already being served when the store goes away
// (held long-polls, login-page event streams) are left to finish: they notice failing
// store calls on their own, and a stream that only waits costs nothing.
//
// The requests let through before the guard has noticed an outage find out for
// themselves, and their handlers answer whatever they answer for a failed store call,
// most often 500. So that clients see one answer for one situation, the middleware
// also looks at what handlers answer: a 503 without Retry-After gets the guard's, and
// any other 5xx is replaced by the guard's 503 when the store does not answer at that
// moment (the guard knows it is down, or a ping made there and then fails; a 5xx
// while the store answers is a real server fault and passes unchanged). A handler
// whose library turns a store failure into something else (fosite answers
// invalid_client when the client cannot be read) calls Refuse itself when
// IsConnectionError recognises the cause.
//
// The guard decides nothing about the store's data: it never retries writes, and a
// handler still sees every error its store calls return. Between the store returning
// and the guard's next ping (at most RetryMax) requests are still refused; that is
// the price of not letting every request find out for itself.
//
// Wiring (provider.go): a field guard *storeguard.Guard on Provider; in New, after
// p.metrics is made and before p.public = p.routes():
//
//	p.guard = storeguard.New(store, storeguard.Options{Logger: p.log})
//	p.metrics.registry.MustRegister(p.guard.Collectors()...)
//
// and as New's last step, once startQRListener has succeeded (so no error return
// leaves a watcher running; until Start the guard lets everything through):
//
//	p.guard.Start(context.Background())
//
// At the end of routes, innermost of the provider's own middleware so that refused
// requests still carry the security headers and appear in the request log:
//
//	return p.recoverer(securityHeaders(p.guard.Middleware(r)))
//
// and in Close, after <-p.done:
//
//	p.guard.Close()
//
// The admin listener may be wrapped the same way by whoever serves it:
// p.guard.Middleware(p.adminAPI).
//
// Handlers that see a store error may call p.guard.Report(err) to have it checked at
// once; they need not, since their 5xx answer has the same effect.
package storeguard
