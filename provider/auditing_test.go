package provider_test

import (
	"context"
	"net/http"
	"testing"

	"golang.org/x/oauth2"

	"github.com/qrid/qrid/provider/audit"
	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
)

// TestAuditPasswordLogin checks that the login page's password form records its
// outcomes in the audit trail.
func TestAuditPasswordLogin(t *testing.T) {
	e := newEnv(t, memory.New()).seed()
	rec := audit.NewRecorder(e.store, audit.Options{})
	e.p.Admin().Audit = rec // provider.New may give it one already; this one is the test's
	conf := e.oauth2Config(e.trusted)
	authURL := conf.AuthCodeURL("state-audit-1", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	b := e.newBrowser().on(t)

	post := func(username, password string, want int) {
		t.Helper()
		resp, page := b.get(authURL)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("login page: %d", resp.StatusCode)
		}
		f := hiddenFields(t, page)
		f.Set("username", username)
		f.Set("password", password)
		if resp, _ := b.post(e.issuer+"/login", f); resp.StatusCode != want {
			t.Fatalf("sign-in as %s: status %d, want %d", username, resp.StatusCode, want)
		}
	}
	post("alice", "wrong", http.StatusUnauthorized)
	post("mallory", "wrong", http.StatusUnauthorized)
	post("alice", testPassword, http.StatusSeeOther)

	rec.Wait()
	// Only the sign-in events: the seeding may have recorded others.
	var events []storage.AuditEvent
	for _, typ := range []string{audit.LoginPasswordFailed, audit.LoginPasswordOK} {
		found, err := e.store.ListAuditEvents(context.Background(), storage.AuditQuery{Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, found...)
	}
	want := map[string]storage.AuditEvent{
		"wrong_password page=login":   {Type: audit.LoginPasswordFailed, AccountID: e.user.ID, ClientID: e.trusted.ClientID, IP: "127.0.0.1", Detail: "wrong_password page=login"},
		"unknown_username page=login": {Type: audit.LoginPasswordFailed, ClientID: e.trusted.ClientID, IP: "127.0.0.1", Detail: "unknown_username page=login"},
		"page=login":                  {Type: audit.LoginPasswordOK, AccountID: e.user.ID, ClientID: e.trusted.ClientID, IP: "127.0.0.1", Detail: "page=login"},
	}
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(events), len(want), events)
	}
	for _, ev := range events {
		ev.ID, ev.Time = "", ev.Time.Truncate(0)
		w := want[ev.Detail]
		w.Time = ev.Time
		if ev != w {
			t.Errorf("event %+v\nwant  %+v", ev, w)
		}
	}
}
