package fositestore_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/qrid/qrid/provider/fositestore"
	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
)

// FuzzStoredRequest reads arbitrary bytes as a stored token request (the column the
// adapter serialises fosite requests into): a corrupt row is an error, never a panic,
// and a row that reads back gives a request with its client, a form and a session;
// a request written by the adapter reads back as written.
func FuzzStoredRequest(f *testing.F) {
	ctx := context.Background()
	mem := memory.New()
	client := storage.Client{ID: "c1", Name: "Client", GrantTypes: []string{"authorization_code"},
		TokenEndpointAuthMethod: "none", CreatedAt: time.Now()}
	if err := mem.CreateClient(ctx, client); err != nil {
		f.Fatal(err)
	}
	newSession := func() fosite.Session { return openid.NewDefaultSession() }
	st := fositestore.New(mem, newSession, time.Hour)

	// A request written by the adapter.
	sess := openid.NewDefaultSession()
	sess.Subject = "user-1"
	sess.Claims.Subject = "user-1"
	req := &fosite.Request{ID: "req-1", RequestedAt: time.Now().UTC().Truncate(time.Second), Client: &fositestore.Client{Client: client},
		RequestedScope: fosite.Arguments{"openid"}, GrantedScope: fosite.Arguments{"openid"},
		Form: url.Values{"state": {"s"}}, Session: sess}
	if err := st.CreateAccessTokenSession(ctx, "seed", req); err != nil {
		f.Fatal(err)
	}
	row, err := mem.GetTokenSession(ctx, storage.KindAccessToken, "seed")
	if err != nil {
		f.Fatal(err)
	}
	got, err := st.GetAccessTokenSession(ctx, "seed", newSession())
	if err != nil || got.GetID() != "req-1" || got.GetSession().GetSubject() != "user-1" || got.GetRequestForm().Get("state") != "s" {
		f.Fatalf("a written request does not read back: %v %+v", err, got)
	}
	f.Add(row.Request)
	for _, seed := range []string{
		`{"id":"r","client_id":"c1","session":{}}`,
		`{"id":"r","client_id":"c1","session":null,"form":null,"lang":"zz-ZZ-x-??"}`,
		`{"id":"r","client_id":"ghost","session":{}}`,
		`{"id":"r","client_id":"c1"}`,
		`{"id":"r","client_id":"c1","session":{"id_token_claims":{"ext":{"a":[1,{"b":null}]}},"headers":null}}`,
		`{"id":"r","client_id":"c1","session":{"expires_at":{"access_token":"not a time"}}}`,
		`{"client_id":"c1","requested_at":"0001-01-01T00:00:00Z","form":{"a":["1","2"]},"session":{}}`,
		`{"client_id":"c1","session":"string"}`,
		`[]`, `null`, ``, `{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if err := mem.CreateTokenSession(ctx, storage.TokenSession{Kind: storage.KindAccessToken, Signature: "fuzz",
			RequestID: "r", ClientID: "c1", Active: true, Request: raw, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Skipf("the store refuses the row: %v", err)
		}
		defer func() {
			if err := mem.DeleteTokenSession(ctx, storage.KindAccessToken, "fuzz"); err != nil {
				t.Fatal(err)
			}
		}()
		got, err := st.GetAccessTokenSession(ctx, "fuzz", newSession())
		if err != nil {
			return
		}
		if got == nil || got.GetClient() == nil || got.GetRequestForm() == nil || got.GetSession() == nil {
			t.Fatalf("a stored request read back incomplete: %+v", got)
		}
		var sr struct {
			ClientID string `json:"client_id"`
		}
		if err := json.Unmarshal(raw, &sr); err != nil || got.GetClient().GetID() != sr.ClientID {
			t.Fatalf("read back with client %q from %s", got.GetClient().GetID(), raw)
		}
		// What was read can be written again.
		if err := st.CreateAccessTokenSession(ctx, "fuzz-again", got); err != nil {
			t.Fatalf("a request read back cannot be stored again: %v", err)
		}
		if err := st.DeleteAccessTokenSession(ctx, "fuzz-again"); err != nil {
			t.Fatal(err)
		}
	})
}
