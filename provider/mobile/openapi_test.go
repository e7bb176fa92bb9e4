package mobile

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"
)

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
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
	for _, name := range []string{"Error", "LoginRequest", "LoginResponse", "DeviceList", "Device", "ScanRequest",
		"ScanResponse", "Client", "Requester", "ConfirmRequest", "ConfirmResponse"} {
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("schema %s missing", name)
		}
	}

	var all any
	_ = json.Unmarshal(OpenAPI, &all)
	checkRefs(t, all, all)

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
		"expired", "already_scanned", "already_used", "wrong_match", "forbidden", "invalid_token"} {
		if !slices.Contains(errSchema.Properties.Error.Enum, code) {
			t.Errorf("error code %s is not documented", code)
		}
	}

	// The router and the document list the same operations.
	var documented []string
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}
	r := mux.NewRouter()
	(&Handler{}).Mount(r)
	var routed []string
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			if path == PathPrefix+"/" {
				return nil // the JSON 404 and 405 for the rest of the prefix
			}
			t.Errorf("route %s serves every method: %v", path, err)
			return nil
		}
		for _, m := range methods {
			routed = append(routed, m+" "+path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(documented)
	slices.Sort(routed)
	if !slices.Equal(documented, routed) {
		t.Errorf("routes and document differ:\nrouted     %q\ndocumented %q", routed, documented)
	}
	if len(routed) != 7 {
		t.Errorf("%d routes, want 7", len(routed))
	}
}

// checkRefs fails for every "$ref" in v that does not resolve in root.
func checkRefs(t *testing.T, root, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["$ref"].(string); ok {
			node := root
			for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
				m, _ := node.(map[string]any)
				node = m[part]
			}
			if node == nil {
				t.Errorf("$ref %q does not resolve", ref)
			}
		}
		for _, x := range v {
			checkRefs(t, root, x)
		}
	case []any:
		for _, x := range v {
			checkRefs(t, root, x)
		}
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
