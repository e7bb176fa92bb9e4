package admin

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/qrid/qrid/provider/audit"
	"github.com/qrid/qrid/provider/jsonapi"
	"github.com/qrid/qrid/storage"
)

// DefaultAuditLimit is how many events GET /admin/v1/audit returns without limit.
const DefaultAuditLimit = 100

// maxAuditFilterLen bounds the account_id and type filters.
const maxAuditFilterLen = 256

// AuditEventInfo is one audit event as the admin API shows it.
type AuditEventInfo struct {
	ID        string    `json:"id"`
	Time      time.Time `json:"time"`
	Type      string    `json:"type"`
	AccountID string    `json:"account_id,omitempty"`
	ClientID  string    `json:"client_id,omitempty"`
	DeviceID  string    `json:"device_id,omitempty"`
	IP        string    `json:"ip,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// ListAuditEvents returns the audit events q selects, newest first. q.Type must be
// one of audit.Types (or empty) and q.Limit between 1 and storage.AuditMaxLimit (0
// means DefaultAuditLimit).
func (s *Service) ListAuditEvents(ctx context.Context, q storage.AuditQuery) ([]AuditEventInfo, error) {
	switch {
	case len(q.AccountID) > maxAuditFilterLen:
		return nil, invalidRequest("account_id must be at most %d bytes.", maxAuditFilterLen)
	case q.Type != "" && !slices.Contains(audit.Types, q.Type):
		return nil, invalidRequest("type %q is not an audit event type; use one of %s.", q.Type, strings.Join(audit.Types, ", "))
	case q.Limit < 0 || q.Limit > storage.AuditMaxLimit:
		return nil, invalidRequest("limit must be between 1 and %d.", storage.AuditMaxLimit)
	case q.Limit == 0:
		q.Limit = DefaultAuditLimit
	}
	events, err := s.Store.ListAuditEvents(ctx, q)
	if err != nil {
		return nil, storeError(err, "audit events", "list")
	}
	out := make([]AuditEventInfo, 0, len(events))
	for _, e := range events {
		out = append(out, AuditEventInfo{ID: e.ID, Time: e.Time.UTC(), Type: e.Type, AccountID: e.AccountID,
			ClientID: e.ClientID, DeviceID: e.DeviceID, IP: e.IP, Detail: e.Detail})
	}
	return out, nil
}

// auditParams are the query parameters of GET /admin/v1/audit.
var auditParams = []string{"account_id", "type", "since", "limit"}

// parseAuditQuery reads GET /admin/v1/audit's query. Unknown, repeated and empty
// parameters are refused, so a mistyped filter is never silently ignored.
func parseAuditQuery(r *http.Request) (storage.AuditQuery, *Error) {
	var q storage.AuditQuery
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return q, invalidRequest("The query string is malformed: %v.", err)
	}
	for name, vs := range values {
		switch {
		case !slices.Contains(auditParams, name):
			return q, invalidRequest("Unknown parameter %q; use %s.", name, strings.Join(auditParams, ", "))
		case len(vs) > 1:
			return q, invalidRequest("Parameter %s is repeated; give it once.", name)
		case vs[0] == "":
			return q, invalidRequest("Parameter %s is empty; leave it out or give a value.", name)
		}
	}
	q.AccountID, q.Type = values.Get("account_id"), values.Get("type")
	if v := values.Get("since"); v != "" {
		since, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return q, invalidRequest("since must be an RFC 3339 time such as 2030-01-02T15:04:05Z.")
		}
		q.Since = since
	}
	if v := values.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > storage.AuditMaxLimit {
			return q, invalidRequest("limit must be a whole number between 1 and %d.", storage.AuditMaxLimit)
		}
		q.Limit = n
	}
	return q, nil
}

type auditEventList struct {
	Events []AuditEventInfo `json:"events"`
}

func (a *api) listAuditEvents(w http.ResponseWriter, r *http.Request) {
	q, e := parseAuditQuery(r)
	if e != nil {
		writeError(w, e)
		return
	}
	events, err := a.svc.ListAuditEvents(r.Context(), q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	jsonapi.Write(w, http.StatusOK, auditEventList{Events: events})
}
