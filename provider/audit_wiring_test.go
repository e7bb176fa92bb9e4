package provider_test

import (
	"context"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/qrid/qrid/provider/audit"
	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
)

// TestAuditWiring checks that provider.New wires the audit trail: a reused refresh
// token and the admin seeding are recorded.
func TestAuditWiring(t *testing.T) {
	e := newEnv(t, memory.New()).seed()
	tok, _ := e.codeFlow(e.newBrowser(), e.trusted)
	conf := e.oauth2Config(e.trusted)
	refresh := func(rt string) (*oauth2.Token, error) {
		return conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: rt, Expiry: time.Unix(1, 0)}).Token()
	}
	if _, err := refresh(tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	_, err := refresh(tok.RefreshToken)
	assertOAuthError(t, err, "invalid_grant")
	e.p.Admin().Audit.Wait()
	for _, typ := range []string{audit.RefreshTokenReused, audit.UserCreated, audit.LoginPasswordOK} {
		got, err := e.store.ListAuditEvents(context.Background(), storage.AuditQuery{Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].AccountID != e.user.ID {
			t.Errorf("%s events: %+v", typ, got)
		}
	}
}
