package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

const auditPath = "/admin/v1/audit"

func (a *app) newAuditCmd() *cobra.Command {
	var (
		conn  adminFlags
		query auditQuery
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List security events, newest first",
		Long: "List the audit trail's security events (sign-ins, QR decisions, revocations,\n" +
			"admin changes), newest first. Events are kept 90 days.",
		Example: "  qrid audit list --account 3f2a... --since 24h\n" +
			"  qrid audit list --type mobile.login.failed --since 2030-01-02T00:00:00Z --limit 500",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			query.limitSet = cmd.Flags().Changed("limit")
			path, err := query.path(time.Now())
			if err != nil {
				return err
			}
			return a.call(cmd, &conn, http.MethodGet, path, nil)
		},
	}
	f := list.Flags()
	f.StringVar(&query.account, "account", "", "only the events of this user ID")
	f.StringVar(&query.typ, "type", "", "only the events of this type, e.g. mobile.login.failed")
	f.StringVar(&query.since, "since", "", "only the events at or after this RFC 3339 time, or this long ago (e.g. 24h)")
	f.IntVar(&query.limit, "limit", 0, "the most events shown, 1 to 1000 (default: the server's, 100)")
	noEnv(f, "account", "type", "since", "limit")

	cmd := groupCmd("audit", "List the audit trail of security events (admin API)", list)
	conn.add(cmd)
	return cmd
}

// auditQuery is what `qrid audit list` asks for.
type auditQuery struct {
	account, typ, since string
	limit               int
	// limitSet is true when --limit was given (0 is then refused).
	limitSet bool
}

// path is the admin API path of the query; a --since duration counts back from now.
func (q auditQuery) path(now time.Time) (string, error) {
	v := url.Values{}
	if q.account != "" {
		v.Set("account_id", q.account)
	}
	if q.typ != "" {
		v.Set("type", q.typ)
	}
	if q.since != "" {
		since, err := time.Parse(time.RFC3339, q.since)
		if err != nil {
			d, derr := time.ParseDuration(q.since)
			if derr != nil || d <= 0 {
				return "", usageError{fmt.Errorf("--since %q is neither an RFC 3339 time (2030-01-02T15:04:05Z) nor a positive duration (24h)", q.since)}
			}
			since = now.Add(-d)
		}
		v.Set("since", since.UTC().Format(time.RFC3339))
	}
	if q.limitSet || q.limit != 0 {
		if q.limit < 1 || q.limit > 1000 {
			return "", usageError{fmt.Errorf("--limit %d must be between 1 and 1000", q.limit)}
		}
		v.Set("limit", strconv.Itoa(q.limit))
	}
	if len(v) == 0 {
		return auditPath, nil
	}
	return auditPath + "?" + v.Encode(), nil
}
