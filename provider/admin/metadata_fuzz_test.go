package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/qrid/qrid/provider/digest"
	"github.com/qrid/qrid/storage/memory"
)

// FuzzClientMetadata posts arbitrary JSON to POST /admin/v1/clients, on a service
// with and without Dev: never a 5xx, every error a JSON error object, nothing stored
// when refused, and a 201 only for metadata that validates again to itself — what is
// stored and answered is normalize's result for what was sent.
func FuzzClientMetadata(f *testing.F) {
	secrets, err := digest.New(bytes.Repeat([]byte("s"), 32), "client secret")
	if err != nil {
		f.Fatal(err)
	}
	type site struct {
		svc *Service
		h   http.Handler
	}
	sites := map[bool]site{}
	for _, dev := range []bool{false, true} {
		svc := &Service{Store: memory.New(), Keys: newFakeKeys(), ClientSecrets: secrets, Dev: dev}
		sites[dev] = site{svc: svc, h: NewHandler(svc, testToken, nil)}
	}
	for _, seed := range []string{
		`{"client_name":"Shop","redirect_uris":["https://shop.example/cb"]}`,
		`{"client_name":" Shop ","redirect_uris":["http://127.0.0.1:9999/callback"],"token_endpoint_auth_method":"none","first_party":true}`,
		`{"client_name":"App","redirect_uris":["com.example.app:/oauth"],"token_endpoint_auth_method":"none"}`,
		`{"client_name":"Dev","redirect_uris":["http://dev.example/cb"],"logo_uri":"http://dev.example/l.png","client_uri":"http://dev.example"}`,
		`{"client_name":"Batch","grant_types":["client_credentials"],"scope":"profile email"}`,
		`{"client_name":"TV","grant_types":["urn:ietf:params:oauth:grant-type:device_code","refresh_token"]}`,
		`{"client_name":"R","grant_types":["refresh_token"]}`,
		`{"client_name":"E","grant_types":[]}`,
		`{"client_name":"X","grant_types":["client_credentials"],"response_types":["code"]}`,
		`{"client_name":"P","grant_types":["client_credentials"],"token_endpoint_auth_method":"none"}`,
		`{"client_id":"my.client~1","client_name":"Named","redirect_uris":["https://a.example/cb"],"id_token_signed_response_alg":"RS256"}`,
		`{"client_id":"ab","client_name":"Short","redirect_uris":["https://a.example/cb"]}`,
		`{"client_name":"Frag","redirect_uris":["https://a.example/cb#x"]}`,
		`{"client_name":"User","redirect_uris":["https://u:p@a.example/cb"]}`,
		`{"client_name":"Dup","redirect_uris":["https://a.example/cb","https://a.example/cb"]}`,
		`{"client_name":"Post","redirect_uris":["https://a.example/cb"],"post_logout_redirect_uris":[]}`,
		`{"client_name":"Scope","redirect_uris":["https://a.example/cb"],"scope":"  openid\tprofile  "}`,
		`{"client_name":"Alg","redirect_uris":["https://a.example/cb"],"id_token_signed_response_alg":"none"}`,
		`{"client_name":"\u0000","redirect_uris":["https://a.example/cb"]}`,
		`{"client_name":"Opaque","redirect_uris":["com.example:x"],"token_endpoint_auth_method":"none"}`,
		`{"client_name":"Host","redirect_uris":["https://:443/cb"]}`,
		`{"client_name":"n","redirect_uris":null,"grant_types":null,"response_types":null}`,
		`{"client_name":1}`, `{"surprise":true}`, `{} {}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, dev bool) {
		s := sites[dev]
		ctx := context.Background()
		before, err := s.svc.Store.ListClients(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, PathPrefix+"/clients", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		s.h.ServeHTTP(rec, r)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %s: %s", rec.Code, body, rec.Body)
		}
		if rec.Code != http.StatusCreated {
			var e map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e["error"] == nil || e["message"] == nil || len(e) != 2 {
				t.Fatalf("status %d: malformed error: %s", rec.Code, rec.Body)
			}
			after, err := s.svc.Store.ListClients(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before) {
				t.Fatalf("a refused registration (%d) stored a client", rec.Code)
			}
			return
		}
		var info ClientInfo
		if err := json.Unmarshal(rec.Body.Bytes(), &info); err != nil {
			t.Fatalf("the 201 answer is not a client: %v: %s", err, rec.Body)
		}
		defer func() {
			if err := s.svc.DeleteClient(ctx, info.ClientID); err != nil {
				t.Fatal(err)
			}
		}()
		// What was stored validates again, to itself.
		again, e := normalize(info.ClientMetadata, dev)
		if e != nil {
			t.Fatalf("registered metadata does not validate again: %v\nsent %s\ngot  %s", e, body, rec.Body)
		}
		if !reflect.DeepEqual(again, info.ClientMetadata) {
			t.Fatalf("registered metadata changes when validated again:\nstored %+v\nagain  %+v", info.ClientMetadata, again)
		}
		// And it is what validating the request gave.
		var sent ClientMetadata
		if err := json.Unmarshal(body, &sent); err != nil {
			t.Fatalf("a 201 for a body that is not client metadata: %s", body)
		}
		want, e := normalize(sent, dev)
		if e != nil {
			t.Fatalf("a 201 for metadata that does not validate: %v", e)
		}
		if want.ClientID == "" {
			want.ClientID = info.ClientID
		}
		if !sameMetadata(want, info.ClientMetadata) {
			t.Fatalf("the answer is not the validated request:\nwant %+v\ngot  %+v", want, info.ClientMetadata)
		}
		if (info.ClientSecret == "") != (info.TokenEndpointAuthMethod == AuthNone) {
			t.Fatalf("client secret %q with token_endpoint_auth_method %q", info.ClientSecret, info.TokenEndpointAuthMethod)
		}
		stored, err := s.svc.GetClient(ctx, info.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		if !sameMetadata(stored.ClientMetadata, info.ClientMetadata) {
			t.Fatalf("stored metadata differs from the answer:\nstored %+v\nanswer %+v", stored.ClientMetadata, info.ClientMetadata)
		}
	})
}

// sameMetadata compares metadata as the JSON answer shows it: an empty
// post_logout_redirect_uris is left out (omitempty), like no list at all.
func sameMetadata(a, b ClientMetadata) bool {
	if len(a.PostLogoutRedirectURIs) == 0 && len(b.PostLogoutRedirectURIs) == 0 {
		a.PostLogoutRedirectURIs, b.PostLogoutRedirectURIs = nil, nil
	}
	return reflect.DeepEqual(a, b)
}
