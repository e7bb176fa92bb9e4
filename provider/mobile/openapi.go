package mobile

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3.1 document describing the mobile API, served at
// /api/mobile/v1/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(OpenAPI)
}
