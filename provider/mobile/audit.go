package mobile

import (
	"net/http"

	"github.com/qrid/qrid/storage"
)

// record adds e, with the caller's address, to the audit trail (Handler.Audit; a
// nil recorder records nothing). It never blocks on the store.
func (h *Handler) record(r *http.Request, e storage.AuditEvent) {
	e.IP = clientIP(r)
	h.Audit.Record(r.Context(), e)
}
