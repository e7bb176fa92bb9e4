package admin

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/qrid/qrid/storage"
)

const webClient = `{"client_name":"Example Web","redirect_uris":["https://rp.example.com/callback"]}`

func TestClientLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	// Create: 201, Location, defaults, a secret shown once.
	r := e.call(http.MethodPost, "/admin/v1/clients", webClient)
	wantStatus(t, r, http.StatusCreated)
	created := r.object(t)
	id, _ := created["client_id"].(string)
	if !clientIDPattern.MatchString(id) || len(id) != 22 {
		t.Fatalf("generated client_id %q, want 16 random bytes in base64url", id)
	}
	if got := r.header.Get("Location"); got != "/admin/v1/clients/"+id {
		t.Errorf("Location %q", got)
	}
	secret, _ := created["client_secret"].(string)
	if len(secret) != 43 {
		t.Fatalf("client_secret %q, want 32 bytes in base64url", secret)
	}
	want := map[string]any{
		"client_id":                    id,
		"client_name":                  "Example Web",
		"redirect_uris":                []any{"https://rp.example.com/callback"},
		"grant_types":                  []any{"authorization_code", "refresh_token"},
		"response_types":               []any{"code"},
		"scope":                        "openid profile email offline_access",
		"token_endpoint_auth_method":   "client_secret_basic",
		"id_token_signed_response_alg": "ES256",
		"first_party":                  false,
		"client_id_issued_at":          float64(testNow.Unix()),
		"client_secret":                secret,
		"client_secret_expires_at":     float64(0),
	}
	if !reflect.DeepEqual(created, want) {
		t.Errorf("created\n got %v\nwant %v", created, want)
	}

	// Only the digest is stored, and it verifies the secret.
	stored := e.storedClient(id)
	if !e.svc.ClientSecrets.Equal(stored.SecretDigest, []byte(secret)) {
		t.Error("the stored digest does not verify the returned secret")
	}
	if strings.Contains(string(stored.SecretDigest), secret) {
		t.Error("the secret itself is stored")
	}

	// GET and list never show the secret.
	r = e.call(http.MethodGet, "/admin/v1/clients/"+id, "")
	wantStatus(t, r, http.StatusOK)
	got := r.object(t)
	delete(want, "client_secret")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("get\n got %v\nwant %v", got, want)
	}
	r = e.call(http.MethodGet, "/admin/v1/clients", "")
	wantStatus(t, r, http.StatusOK)
	if strings.Contains(string(r.body), secret) || strings.Contains(string(r.body), `"client_secret"`) {
		t.Errorf("list shows a secret: %s", r.body)
	}
	var list struct{ Clients []ClientInfo }
	r.decode(t, &list)
	if len(list.Clients) != 1 || list.Clients[0].ClientID != id {
		t.Errorf("list %+v", list)
	}

	// Update replaces the metadata and keeps the secret.
	r = e.call(http.MethodPut, "/admin/v1/clients/"+id, `{"client_id":"`+id+`","client_name":"Renamed",
		"redirect_uris":["https://rp.example.com/cb2"],"first_party":true,"scope":"openid"}`)
	wantStatus(t, r, http.StatusOK)
	var updated ClientInfo
	r.decode(t, &updated)
	if updated.ClientSecret != "" || strings.Contains(string(r.body), `"client_secret"`) {
		t.Errorf("update shows a secret: %s", r.body)
	}
	if updated.ClientName != "Renamed" || !updated.FirstParty || updated.Scope != "openid" ||
		!reflect.DeepEqual(updated.RedirectURIs, []string{"https://rp.example.com/cb2"}) ||
		updated.ClientIDIssuedAt != testNow.Unix() {
		t.Errorf("updated %+v", updated)
	}
	if !e.svc.ClientSecrets.Equal(e.storedClient(id).SecretDigest, []byte(secret)) {
		t.Error("update changed the secret")
	}

	// A second update without first_party and scope returns them to their defaults.
	r = e.call(http.MethodPut, "/admin/v1/clients/"+id, webClient)
	wantStatus(t, r, http.StatusOK)
	r.decode(t, &updated)
	if updated.FirstParty || updated.Scope != "openid profile email offline_access" {
		t.Errorf("PUT is not a full replacement: %+v", updated)
	}

	// Rotation: the new secret verifies, the old one no longer does.
	r = e.call(http.MethodPost, "/admin/v1/clients/"+id+"/secret", "")
	wantStatus(t, r, http.StatusOK)
	var rotated ClientInfo
	r.decode(t, &rotated)
	if len(rotated.ClientSecret) != 43 || rotated.ClientSecret == secret {
		t.Fatalf("rotated secret %q", rotated.ClientSecret)
	}
	if rotated.ClientSecretExpiresAt == nil || *rotated.ClientSecretExpiresAt != 0 {
		t.Error("rotation answer lacks client_secret_expires_at 0")
	}
	digest := e.storedClient(id).SecretDigest
	if e.svc.ClientSecrets.Equal(digest, []byte(secret)) {
		t.Error("the old secret still verifies after rotation")
	}
	if !e.svc.ClientSecrets.Equal(digest, []byte(rotated.ClientSecret)) {
		t.Error("the new secret does not verify")
	}
	r = e.call(http.MethodGet, "/admin/v1/clients/"+id, "")
	if strings.Contains(string(r.body), rotated.ClientSecret) {
		t.Error("GET shows the rotated secret")
	}

	// Delete, then everything about it is 404.
	wantStatus(t, e.call(http.MethodDelete, "/admin/v1/clients/"+id, ""), http.StatusNoContent)
	wantError(t, e.call(http.MethodGet, "/admin/v1/clients/"+id, ""), http.StatusNotFound, "not_found")
	wantError(t, e.call(http.MethodDelete, "/admin/v1/clients/"+id, ""), http.StatusNotFound, "not_found")
	wantError(t, e.call(http.MethodPut, "/admin/v1/clients/"+id, webClient), http.StatusNotFound, "not_found")
	wantError(t, e.call(http.MethodPost, "/admin/v1/clients/"+id+"/secret", ""), http.StatusNotFound, "not_found")
	r = e.call(http.MethodGet, "/admin/v1/clients", "")
	wantStatus(t, r, http.StatusOK)
	if strings.TrimSpace(string(r.body)) != `{"clients":[]}` {
		t.Errorf("empty list %s", r.body)
	}
}

func TestClientChosenIDAndConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	info := e.createClient(`{"client_id":"demo.app_1~x","client_name":"Demo","redirect_uris":["https://a.example/cb"]}`)
	if info.ClientID != "demo.app_1~x" {
		t.Fatalf("client_id %q", info.ClientID)
	}
	before := e.snapshot()
	r := e.call(http.MethodPost, "/admin/v1/clients", `{"client_id":"demo.app_1~x","client_name":"Other","redirect_uris":["https://b.example/cb"]}`)
	wantError(t, r, http.StatusConflict, "conflict")
	if !reflect.DeepEqual(e.snapshot(), before) {
		t.Error("a conflicting create changed the store")
	}
}

func TestPublicClientSecretTransitions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const public = `{"client_name":"Native","redirect_uris":["com.example.app:/callback","http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}`
	r := e.call(http.MethodPost, "/admin/v1/clients", public)
	wantStatus(t, r, http.StatusCreated)
	m := r.object(t)
	if _, ok := m["client_secret"]; ok {
		t.Error("public client got a secret")
	}
	if _, ok := m["client_secret_expires_at"]; ok {
		t.Error("public client got client_secret_expires_at")
	}
	id := m["client_id"].(string)
	if d := e.storedClient(id).SecretDigest; len(d) != 0 {
		t.Errorf("public client has a digest %x", d)
	}

	// A public client has no secret to rotate.
	before := e.snapshot()
	wantError(t, e.call(http.MethodPost, "/admin/v1/clients/"+id+"/secret", ""), http.StatusBadRequest, "invalid_request")
	if !reflect.DeepEqual(e.snapshot(), before) {
		t.Error("a refused rotation changed the store")
	}

	// none → client_secret_post issues a secret, returned once.
	r = e.call(http.MethodPut, "/admin/v1/clients/"+id, strings.Replace(public, `"none"`, `"client_secret_post"`, 1))
	wantStatus(t, r, http.StatusOK)
	var info ClientInfo
	r.decode(t, &info)
	if len(info.ClientSecret) != 43 || info.ClientSecretExpiresAt == nil {
		t.Fatalf("switching to a secret method: %s", r.body)
	}
	if !e.svc.ClientSecrets.Equal(e.storedClient(id).SecretDigest, []byte(info.ClientSecret)) {
		t.Error("the issued secret does not verify")
	}
	// A further update keeps that secret and does not show it.
	r = e.call(http.MethodPut, "/admin/v1/clients/"+id, strings.Replace(public, `"none"`, `"client_secret_basic"`, 1))
	wantStatus(t, r, http.StatusOK)
	if strings.Contains(string(r.body), "client_secret\"") {
		t.Errorf("update shows a secret: %s", r.body)
	}
	if !e.svc.ClientSecrets.Equal(e.storedClient(id).SecretDigest, []byte(info.ClientSecret)) {
		t.Error("update changed the secret")
	}

	// Back to none deletes the digest.
	r = e.call(http.MethodPut, "/admin/v1/clients/"+id, public)
	wantStatus(t, r, http.StatusOK)
	if strings.Contains(string(r.body), "client_secret") {
		t.Errorf("public client answer mentions a secret: %s", r.body)
	}
	if d := e.storedClient(id).SecretDigest; len(d) != 0 {
		t.Errorf("digest kept after switching to none: %x", d)
	}
}

func TestUpdateClientCannotChangeID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	info := e.createClient(webClient)
	before := e.snapshot()
	r := e.call(http.MethodPut, "/admin/v1/clients/"+info.ClientID, `{"client_id":"another-id","client_name":"X","redirect_uris":["https://a.example/cb"]}`)
	wantError(t, r, http.StatusBadRequest, "invalid_client_metadata")
	if !reflect.DeepEqual(e.snapshot(), before) {
		t.Error("a refused update changed the store")
	}
}

// TestClientValidation sends each invalid registration as a create and as an update
// of an existing client, and checks the 400, its code, and that nothing changed.
func TestClientValidation(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("n", 201)
	longURI := "https://a.example/" + strings.Repeat("p", 2048)
	tests := []struct {
		name, body, code, mention string
	}{
		{"fail/client_id too short", `{"client_id":"ab","client_name":"X","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "client_id"},
		{"fail/client_id bad character", `{"client_id":"a/b/c","client_name":"X","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "client_id"},
		{"fail/client_id too long", `{"client_id":"` + strings.Repeat("a", 65) + `","client_name":"X","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "client_id"},
		{"fail/client_name missing", `{"redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "client_name"},
		{"fail/client_name blank", `{"client_name":"   ","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "client_name"},
		{"fail/client_name too long", `{"client_name":"` + long + `","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "client_name"},
		{"fail/client_name control character", `{"client_name":"a\u0007b","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "client_name"},
		{"fail/redirect relative", `{"client_name":"X","redirect_uris":["/callback"]}`, "invalid_redirect_uri", "absolute"},
		{"fail/redirect fragment", `{"client_name":"X","redirect_uris":["https://a.example/cb#frag"]}`, "invalid_redirect_uri", "fragment"},
		{"fail/redirect empty fragment", `{"client_name":"X","redirect_uris":["https://a.example/cb#"]}`, "invalid_redirect_uri", "fragment"},
		{"fail/redirect http non-loopback", `{"client_name":"X","redirect_uris":["http://rp.example.com/cb"]}`, "invalid_redirect_uri", "https"},
		{"fail/redirect http loopback lookalike", `{"client_name":"X","redirect_uris":["http://127.0.0.1.example.com/cb"]}`, "invalid_redirect_uri", "https"},
		{"fail/redirect custom scheme without dot", `{"client_name":"X","redirect_uris":["myapp:/callback"]}`, "invalid_redirect_uri", "RFC 8252"},
		{"fail/redirect javascript", `{"client_name":"X","redirect_uris":["javascript:alert(1)"]}`, "invalid_redirect_uri", "javascript"},
		{"fail/redirect custom scheme empty", `{"client_name":"X","redirect_uris":["com.example.app:"]}`, "invalid_redirect_uri", "nothing after"},
		{"fail/redirect https no host", `{"client_name":"X","redirect_uris":["https:///cb"]}`, "invalid_redirect_uri", "host"},
		{"fail/redirect userinfo", `{"client_name":"X","redirect_uris":["https://u:p@a.example/cb"]}`, "invalid_redirect_uri", "user information"},
		{"fail/redirect space", `{"client_name":"X","redirect_uris":["https://a.example/c b"]}`, "invalid_redirect_uri", "spaces"},
		{"fail/redirect too long", `{"client_name":"X","redirect_uris":["` + longURI + `"]}`, "invalid_redirect_uri", "longer"},
		{"fail/redirect duplicate", `{"client_name":"X","redirect_uris":["https://a.example/cb","https://a.example/cb"]}`, "invalid_redirect_uri", "more than once"},
		{"fail/authorization_code without redirect", `{"client_name":"X"}`, "invalid_redirect_uri", "at least one"},
		{"fail/authorization_code with empty redirects", `{"client_name":"X","redirect_uris":[]}`, "invalid_redirect_uri", "at least one"},
		{"fail/post-logout http", `{"client_name":"X","redirect_uris":["https://a.example/cb"],"post_logout_redirect_uris":["http://a.example/bye"]}`, "invalid_redirect_uri", "post_logout_redirect_uris"},
		{"fail/post-logout fragment", `{"client_name":"X","redirect_uris":["https://a.example/cb"],"post_logout_redirect_uris":["https://a.example/bye#x"]}`, "invalid_redirect_uri", "fragment"},
		{"fail/post-logout duplicate", `{"client_name":"X","redirect_uris":["https://a.example/cb"],"post_logout_redirect_uris":["https://a.example/bye","https://a.example/bye"]}`, "invalid_redirect_uri", "more than once"},
		{"fail/grant unknown", `{"client_name":"X","redirect_uris":["https://a.example/cb"],"grant_types":["authorization_code","implicit"]}`, "invalid_client_metadata", "implicit"},
		{"fail/grant empty list", `{"client_name":"X","redirect_uris":["https://a.example/cb"],"grant_types":[]}`, "invalid_client_metadata", "grant_types"},
		{"fail/grant duplicate", `{"client_name":"X","redirect_uris":["https://a.example/cb"],"grant_types":["authorization_code","authorization_code"]}`, "invalid_client_metadata", "more than once"},
		{"fail/refresh_token alone", `{"client_name":"X","grant_types":["refresh_token"],"response_types":[]}`, "invalid_client_metadata", "refresh_token"},
		{"fail/refresh_token with client_credentials", `{"client_name":"X","grant_types":["client_credentials","refresh_token"],"response_types":[]}`, "invalid_client_metadata", "refresh_token"},
		{"fail/response type unsupported", `{"client_name":"X","redirect_uris":["https://a.example/cb"],"response_types":["token"]}`, "invalid_client_metadata", "token"},
		{"fail/response type duplicate", `{"client_name":"X","redirect_uris":["https://a.example/cb"],"response_types":["code","code"]}`, "invalid_client_metadata", "more than once"},
		{"fail/code without authorization_code", `{"client_name":"X","grant_types":["client_credentials"],"response_types":["code"]}`, "invalid_client_metadata", "authorization_code"},
		{"fail/authorization_code without code", `{"client_name":"X","redirect_uris":["https://a.example/cb"],"response_types":[]}`, "invalid_client_metadata", "code"},
		{"fail/none with client_credentials", `{"client_name":"X","grant_types":["client_credentials"],"token_endpoint_auth_method":"none"}`, "invalid_client_metadata", "client_credentials"},
		{"fail/auth method unknown", `{"client_name":"X","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}`, "invalid_client_metadata", "private_key_jwt"},
		{"fail/scope unknown", `{"client_name":"X","redirect_uris":["https://a.example/cb"],"scope":"openid admin"}`, "invalid_client_metadata", "admin"},
		{"fail/scope duplicate", `{"client_name":"X","redirect_uris":["https://a.example/cb"],"scope":"openid openid"}`, "invalid_client_metadata", "more than once"},
		{"fail/alg unknown", `{"client_name":"X","redirect_uris":["https://a.example/cb"],"id_token_signed_response_alg":"HS256"}`, "invalid_client_metadata", "HS256"},
		{"fail/alg none", `{"client_name":"X","redirect_uris":["https://a.example/cb"],"id_token_signed_response_alg":"none"}`, "invalid_client_metadata", "id_token_signed_response_alg"},
		{"fail/logo_uri http", `{"client_name":"X","redirect_uris":["https://a.example/cb"],"logo_uri":"http://a.example/logo.png"}`, "invalid_client_metadata", "logo_uri"},
		{"fail/logo_uri relative", `{"client_name":"X","redirect_uris":["https://a.example/cb"],"logo_uri":"/logo.png"}`, "invalid_client_metadata", "logo_uri"},
		{"fail/client_uri data", `{"client_name":"X","redirect_uris":["https://a.example/cb"],"client_uri":"data:text/html,hi"}`, "invalid_client_metadata", "client_uri"},
	}
	e := newEnv(t)
	existing := e.createClient(`{"client_id":"existing","client_name":"Existing","redirect_uris":["https://e.example/cb"]}`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.snapshot()
			m := wantError(t, e.call(http.MethodPost, "/admin/v1/clients", tt.body), http.StatusBadRequest, tt.code)
			if msg := m["message"].(string); !strings.Contains(msg, tt.mention) {
				t.Errorf("message %q does not mention %q", msg, tt.mention)
			}
			if !reflect.DeepEqual(e.snapshot(), before) {
				t.Fatal("a refused create changed the store")
			}
			body := tt.body
			if strings.Contains(body, `"client_id"`) {
				// A different client_id in an update is refused for that reason
				// alone; the update case is covered by TestUpdateClientCannotChangeID.
				return
			}
			wantError(t, e.call(http.MethodPut, "/admin/v1/clients/"+existing.ClientID, body), http.StatusBadRequest, tt.code)
			if !reflect.DeepEqual(e.snapshot(), before) {
				t.Fatal("a refused update changed the store")
			}
		})
	}
}

func TestClientValidMetadata(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		dev        bool
		check      func(t *testing.T, c ClientInfo)
	}{
		{name: "ok/loopback http", body: `{"client_name":"CLI","redirect_uris":["http://127.0.0.1:4567/cb","http://[::1]/cb","http://localhost:8000/cb"]}`},
		{name: "ok/private-use scheme", body: `{"client_name":"App","redirect_uris":["com.example.app:/oauth2redirect","com.example.app://callback"],"token_endpoint_auth_method":"none"}`},
		{name: "ok/dev allows http anywhere", dev: true, body: `{"client_name":"Dev","redirect_uris":["http://rp.test:3000/cb"],"logo_uri":"http://rp.test/logo.png","client_uri":"http://rp.test/"}`},
		{name: "ok/client_credentials only", body: `{"client_name":"Service","grant_types":["client_credentials"]}`,
			check: func(t *testing.T, c ClientInfo) {
				if len(c.ResponseTypes) != 0 || len(c.RedirectURIs) != 0 {
					t.Errorf("response_types %v redirect_uris %v, want both empty", c.ResponseTypes, c.RedirectURIs)
				}
			}},
		{name: "ok/device code with refresh", body: `{"client_name":"TV","grant_types":["urn:ietf:params:oauth:grant-type:device_code","refresh_token"],"token_endpoint_auth_method":"none"}`,
			check: func(t *testing.T, c ClientInfo) {
				if c.ClientSecret != "" || len(c.ResponseTypes) != 0 {
					t.Errorf("%+v", c)
				}
			}},
		{name: "ok/everything", body: `{"client_name":"  Full  ","redirect_uris":["https://a.example/cb"],"post_logout_redirect_uris":["https://a.example/bye"],
			"grant_types":["authorization_code","refresh_token","client_credentials","urn:ietf:params:oauth:grant-type:device_code"],"response_types":["code"],
			"scope":"  openid   email ","token_endpoint_auth_method":"client_secret_post","logo_uri":"https://a.example/l.png","client_uri":"https://a.example/",
			"id_token_signed_response_alg":"RS256","first_party":true}`,
			check: func(t *testing.T, c ClientInfo) {
				want := ClientMetadata{
					ClientID: c.ClientID, ClientName: "Full", RedirectURIs: []string{"https://a.example/cb"},
					PostLogoutRedirectURIs: []string{"https://a.example/bye"},
					GrantTypes:             []string{"authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code"},
					ResponseTypes:          []string{"code"}, Scope: "openid email", TokenEndpointAuthMethod: "client_secret_post",
					LogoURI: "https://a.example/l.png", ClientURI: "https://a.example/", IDTokenSignedResponseAlg: "RS256", FirstParty: true,
				}
				if !reflect.DeepEqual(c.ClientMetadata, want) {
					t.Errorf("\n got %+v\nwant %+v", c.ClientMetadata, want)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var opts []envOption
			if tt.dev {
				opts = append(opts, withDev)
			}
			e := newEnv(t, opts...)
			c := e.createClient(tt.body)
			// What the API shows is what is stored.
			r := e.call(http.MethodGet, "/admin/v1/clients/"+c.ClientID, "")
			wantStatus(t, r, http.StatusOK)
			var got ClientInfo
			r.decode(t, &got)
			if !reflect.DeepEqual(got.ClientMetadata, c.ClientMetadata) {
				t.Errorf("GET differs from create:\n got %+v\nwant %+v", got.ClientMetadata, c.ClientMetadata)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestServiceErrorsWrapStorageSentinels(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.svc.GetClient(ctx, "missing")
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || ae.Code != "not_found" || !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetClient(missing) = %#v", err)
	}
	m := ClientMetadata{ClientID: "seeded", ClientName: "Seeded", RedirectURIs: []string{"https://a.example/cb"}}
	if _, err := e.svc.CreateClient(ctx, m); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.CreateClient(ctx, m)
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict || !errors.Is(err, storage.ErrConflict) {
		t.Errorf("second CreateClient = %#v", err)
	}
	_, err = e.svc.CreateClient(ctx, ClientMetadata{ClientName: "No redirect"})
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Code != "invalid_redirect_uri" {
		t.Errorf("CreateClient without redirect = %#v", err)
	}
}

func TestConcurrentCreatesOfOneClientID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 8
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/admin/v1/clients",
				strings.NewReader(`{"client_id":"racy","client_name":"Racy","redirect_uris":["https://a.example/cb"]}`))
			req.Header.Set("Authorization", "Bearer "+testToken)
			req.Header.Set("Content-Type", "application/json")
			res, err := e.srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			statuses <- res.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[http.StatusCreated] != 1 || count[http.StatusConflict] != n-1 {
		t.Errorf("statuses %v, want one 201 and %d 409", count, n-1)
	}
}

func TestServiceWithoutClientSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(e *env) { e.svc.ClientSecrets = nil })
	wantError(t, e.call(http.MethodPost, "/admin/v1/clients", webClient), http.StatusServiceUnavailable, "unavailable")
	if len(e.snapshot().clients) != 0 {
		t.Error("a client was stored without a secret digest")
	}
	// Public clients need no digest.
	e.createClient(`{"client_id":"pub","client_name":"Public","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"none"}`)
	before := e.snapshot()
	wantError(t, e.call(http.MethodPut, "/admin/v1/clients/pub", webClient), http.StatusServiceUnavailable, "unavailable")
	if !reflect.DeepEqual(e.snapshot(), before) {
		t.Error("a failed update changed the store")
	}
}

func TestOnClientChanged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var heard []string
	e.svc.OnClientChanged = func(id string) { heard = append(heard, id) }
	ctx := t.Context()
	md := ClientMetadata{ClientID: "shop", ClientName: "Shop", RedirectURIs: []string{"https://shop.example/cb"}}

	if _, err := e.svc.CreateClient(ctx, ClientMetadata{ClientName: "Bad", RedirectURIs: []string{"not a URL"}}); err == nil {
		t.Fatal("invalid metadata was accepted")
	}
	if len(heard) != 0 {
		t.Fatalf("a refused create, which never reached the store, was reported: %v", heard)
	}
	steps := []struct {
		name string
		do   func() error
	}{
		{"create", func() error { _, err := e.svc.CreateClient(ctx, md); return err }},
		{"update", func() error { _, err := e.svc.UpdateClient(ctx, "shop", md); return err }},
		{"rotate", func() error { _, err := e.svc.RotateClientSecret(ctx, "shop"); return err }},
		{"get", func() error { _, err := e.svc.GetClient(ctx, "shop"); return err }},
		{"list", func() error { _, err := e.svc.ListClients(ctx); return err }},
		{"delete", func() error { return e.svc.DeleteClient(ctx, "shop") }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	if want := []string{"shop", "shop", "shop", "shop"}; !reflect.DeepEqual(heard, want) {
		t.Fatalf("heard %v, want one call for each of create, update, rotate and delete", heard)
	}
	// A failed change is reported too: it may have been applied.
	heard = nil
	if err := e.svc.DeleteClient(ctx, "shop"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if !reflect.DeepEqual(heard, []string{"shop"}) {
		t.Fatalf("heard %v after a failed delete, want [shop]", heard)
	}
}
