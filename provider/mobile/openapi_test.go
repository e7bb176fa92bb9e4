package mobile

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/qrid/qrid/provider/jsonapi/apitest"
)

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	var doc struct {
		OpenAPI    string `json:"openapi"`
		Components struct {
			SecuritySchemes map[string]struct {
				Type   string `json:"type"`
				Scheme string `json:"scheme"`
				In     string `json:"in"`
				Name   string `json:"name"`
			} `json:"securitySchemes"`
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi %q, want 3.1.x", doc.OpenAPI)
	}
	if s := doc.Components.SecuritySchemes["deviceToken"]; s.Type != "http" || s.Scheme != "bearer" {
		t.Errorf("bearer security scheme %+v", s)
	}
	if s := doc.Components.SecuritySchemes["deviceId"]; s.Type != "apiKey" || s.In != "header" || s.Name != "X-Device-Id" {
		t.Errorf("X-Device-Id security scheme %+v", s)
	}
	if s := doc.Components.SecuritySchemes["dpopToken"]; s.Type != "http" || s.Scheme != "DPoP" {
		t.Errorf("DPoP security scheme %+v", s)
	}
	if s := doc.Components.SecuritySchemes["dpopProof"]; s.Type != "apiKey" || s.In != "header" || s.Name != "DPoP" {
		t.Errorf("DPoP proof security scheme %+v", s)
	}
	var login struct {
		Properties map[string]struct {
			Enum []string `json:"enum"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	_ = json.Unmarshal(doc.Components.Schemas["LoginResponse"], &login)
	if tt := login.Properties["token_type"]; !slices.Equal(tt.Enum, []string{"Bearer", "DPoP"}) || !slices.Contains(login.Required, "token_type") {
		t.Errorf("LoginResponse.token_type %+v (required %v), want a required Bearer|DPoP", tt, login.Required)
	}
	for _, name := range []string{"Error", "LoginRequest", "LoginResponse", "DeviceList", "Device", "ScanRequest",
		"ScanResponse", "Client", "Requester", "ConfirmRequest", "ConfirmResponse"} {
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("schema %s missing", name)
		}
	}

	apitest.CheckRefs(t, OpenAPI)

	// Every error code the API can answer is documented.
	var errSchema struct {
		Properties struct {
			Error struct {
				Enum []string `json:"enum"`
			} `json:"error"`
		} `json:"properties"`
	}
	_ = json.Unmarshal(doc.Components.Schemas["Error"], &errSchema)
	for _, code := range []string{CodeInvalidRequest, CodeInvalidCredentials, CodeUnauthorized, CodeNotFound, CodeRateLimited,
		CodeMethodNotAllowed, CodeUnsupportedMediaType, CodeRequestTooLarge, CodeInternal,
		CodeInvalidDPoPProof, "expired", "already_scanned", "already_used", "wrong_match", "forbidden", "invalid_token"} {
		if !slices.Contains(errSchema.Properties.Error.Enum, code) {
			t.Errorf("error code %s is not documented", code)
		}
	}

	// The router and the document list the same operations; the route for the rest of
	// the prefix answers JSON 404s and 405s.
	r := mux.NewRouter()
	(&Handler{}).Mount(r)
	routed := apitest.CheckRoutes(t, r, OpenAPI, PathPrefix+"/")
	if len(routed) != 7 {
		t.Errorf("%d routes, want 7", len(routed))
	}
}

func TestOpenAPIServedWithoutToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.send(request{method: http.MethodGet, path: "/openapi.json"})
	wantStatus(t, r, http.StatusOK)
	if string(r.body) != string(OpenAPI) {
		t.Error("served document differs from the embedded one")
	}
}
