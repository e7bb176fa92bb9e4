package apitest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/mux"
)

const document = `{
  "openapi": "3.1.0",
  "paths": {
    "/v1/items": {
      "summary": "Items",
      "get": {"responses": {"200": {"$ref": "#/components/responses/Items"}}},
      "post": {"requestBody": {"$ref": "#/components/requestBodies/Missing"}}
    },
    "/v1/items/{id}": {
      "parameters": [{"$ref": "#/components/parameters/ID"}],
      "delete": {}
    }
  },
  "components": {
    "responses": {"Items": {"description": "the items"}},
    "parameters": {"ID": {"name": "id", "in": "path"}},
    "schemas": {"Item": {"$ref": "other.json#/Item"}}
  }
}`

var documented = []string{"DELETE /v1/items/{id}", "GET /v1/items", "POST /v1/items"}

func noop(http.ResponseWriter, *http.Request) {}

// router routes the document's operations, then whatever extra adds.
func router(extra func(r *mux.Router)) *mux.Router {
	r := mux.NewRouter()
	r.HandleFunc("/v1/items", noop).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/v1/items/{id}", noop).Methods(http.MethodDelete)
	if extra != nil {
		extra(r)
	}
	return r
}

func TestOperations(t *testing.T) {
	t.Parallel()
	got, err := Operations([]byte(document))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, documented) {
		t.Errorf("Operations %q, want %q", got, documented)
	}
	if _, err := Operations([]byte(`{"paths":`)); err == nil {
		t.Error("Operations accepted a broken document")
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	t.Run("ok", func(t *testing.T) {
		got, err := Routes(router(nil))
		if err != nil || !slices.Equal(got, documented) {
			t.Errorf("Routes = %q, %v; want %q", got, err, documented)
		}
	})
	t.Run("ok/catch_all", func(t *testing.T) {
		r := router(func(r *mux.Router) { r.PathPrefix("/v1/").HandlerFunc(noop) })
		got, err := Routes(r, "/v1/")
		if err != nil || !slices.Equal(got, documented) {
			t.Errorf("Routes = %q, %v; want %q", got, err, documented)
		}
	})
	t.Run("fail/every_method", func(t *testing.T) {
		r := router(func(r *mux.Router) { r.HandleFunc("/v1/anything", noop) })
		if _, err := Routes(r, "/v1/"); err == nil || !strings.Contains(err.Error(), "/v1/anything") {
			t.Errorf("Routes error %v, want one naming /v1/anything", err)
		}
	})
}

func TestUnresolvedRefs(t *testing.T) {
	t.Parallel()
	got, err := UnresolvedRefs([]byte(document))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"#/components/requestBodies/Missing", "other.json#/Item"}
	if !slices.Equal(got, want) {
		t.Errorf("UnresolvedRefs %q, want %q", got, want)
	}
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errors []string
	fatal  bool
}

func (r *recorder) Helper() {}

func (r *recorder) Error(args ...any) { r.errors = append(r.errors, fmt.Sprint(args...)) }

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatal(args ...any) {
	r.Error(args...)
	r.fatal = true
}

func TestCheckRoutes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		router *mux.Router
		doc    string
		failed string // "" when CheckRoutes passes
	}{
		{"ok", router(nil), document, ""},
		{"fail/undocumented_route", router(func(r *mux.Router) { r.HandleFunc("/v1/extra", noop).Methods(http.MethodPut) }),
			document, `routes and document differ`},
		{"fail/unrouted_operation", mux.NewRouter(), document, `routes and document differ`},
		{"fail/every_method", router(func(r *mux.Router) { r.HandleFunc("/v1/anything", noop) }),
			document, "serves every method"},
		{"fail/broken_document", router(nil), `{`, "OpenAPI document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{TB: t}
			routed := CheckRoutes(rec, tt.router, []byte(tt.doc))
			failures := strings.Join(rec.errors, "\n")
			switch {
			case tt.failed == "" && failures != "":
				t.Errorf("CheckRoutes failed: %s", failures)
			case tt.failed == "" && !slices.Equal(routed, documented):
				t.Errorf("CheckRoutes returned %q, want %q", routed, documented)
			case !strings.Contains(failures, tt.failed):
				t.Errorf("CheckRoutes failures %q, want one containing %q", failures, tt.failed)
			}
		})
	}
}

func TestCheckRefs(t *testing.T) {
	t.Parallel()
	rec := &recorder{TB: t}
	CheckRefs(rec, []byte(document))
	want := []string{`$ref "#/components/requestBodies/Missing" does not resolve`, `$ref "other.json#/Item" does not resolve`}
	if !slices.Equal(rec.errors, want) {
		t.Errorf("CheckRefs failures %q, want %q", rec.errors, want)
	}
}

func TestLogBuffer(t *testing.T) {
	t.Parallel()
	var b LogBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := len(b.String()); n != 800 {
		t.Errorf("LogBuffer holds %d bytes, want 800", n)
	}
}
