package provider

import (
	"net/http"

	"github.com/qrid/qrid/storage"
)

// recordAudit adds e, with the caller's address, to the audit trail without
// waiting for the store (package audit). The provider has one Recorder, which New
// gives to every part that records; the pages reach it through the admin
// service's, so that they need no field of their own. A nil recorder records
// nothing.
func (p *Provider) recordAudit(r *http.Request, e storage.AuditEvent) {
	if p.admin == nil {
		return
	}
	e.IP = clientIP(r)
	p.admin.Audit.Record(r.Context(), e)
}

// passwordFailure is the Detail of a refused password: whether the username is
// known (the username itself is never recorded).
func passwordFailure(usernameKnown bool) string {
	if usernameKnown {
		return "wrong_password"
	}
	return "unknown_username"
}
