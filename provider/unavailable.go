package provider

import (
	"net/http"

	"github.com/ory/fosite"

	"github.com/qrid/qrid/provider/storeguard"
)

// refuseIfStoreUnreachable answers the store guard's 503 (temporarily_unavailable,
// with Retry-After) when err comes from a store that could not be reached, logs
// what failed, and reports whether it did. fosite wraps store errors in OAuth errors
// of its choosing (invalid_client when the client cannot be read): a client must not
// take an outage for a verdict on its credentials or its grant.
func (p *Provider) refuseIfStoreUnreachable(w http.ResponseWriter, what string, err error) bool {
	if !storeguard.IsConnectionError(err) {
		return false
	}
	// fosite's error says what it made of the failure; its cause says what failed.
	p.log.Warn(what+": the store does not answer", "err", fosite.ErrorToRFC6749Error(err).Cause())
	p.guard.Report(err)
	p.guard.Refuse(w)
	return true
}
