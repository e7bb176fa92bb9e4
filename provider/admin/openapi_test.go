package admin

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

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
	if s := doc.Components.SecuritySchemes["adminToken"]; s.Type != "http" || s.Scheme != "bearer" {
		t.Errorf("bearer security scheme %+v", s)
	}
	for _, name := range []string{"Error", "ClientMetadata", "ClientInfo", "NewUser", "UserInfo", "KeyInfo", "RotateKeysRequest", "AuditEvent", "AuditEventList"} {
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("schema %s missing", name)
		}
	}

	// Every $ref points at something defined.
	apitest.CheckRefs(t, OpenAPI)

	// The router and the document list the same operations.
	routed := apitest.CheckRoutes(t, (&api{}).router(), OpenAPI)
	if len(routed) != 16 {
		t.Errorf("%d routes, want 16", len(routed))
	}
}

func TestOpenAPIServedWithoutToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.send(request{method: http.MethodGet, path: "/admin/v1/openapi.json", auth: ptr("")})
	wantStatus(t, r, http.StatusOK)
	if string(r.body) != string(OpenAPI) {
		t.Error("served document differs from the embedded one")
	}
}
