// Package apitest checks qrid's JSON APIs against their OpenAPI documents, and
// collects their logs, in the APIs' tests. It is for _test.go files only; no server
// code imports it.
package apitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/mux"
)

// Operations lists the operations an OpenAPI document describes, as "METHOD /path",
// sorted.
func Operations(document []byte) ([]string, error) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(document, &doc); err != nil {
		return nil, fmt.Errorf("apitest: OpenAPI document: %w", err)
	}
	var ops []string
	for path, item := range doc.Paths {
		for method := range item {
			// A path item holds its operations beside other fields (parameters,
			// summary and the like).
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				ops = append(ops, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(ops)
	return ops, nil
}

// Routes lists the operations r routes, as "METHOD /path-template", sorted. A route
// without a method matcher serves every method, which no OpenAPI operation describes:
// it is an error unless its path template is one of catchAll (a route that answers
// the rest of a prefix with 404 or 405, say).
func Routes(r *mux.Router, catchAll ...string) ([]string, error) {
	var ops []string
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			if slices.Contains(catchAll, path) {
				return nil
			}
			return fmt.Errorf("apitest: route %s serves every method: %w", path, err)
		}
		for _, m := range methods {
			ops = append(ops, m+" "+path)
		}
		return nil
	})
	slices.Sort(ops)
	return ops, err
}

// CheckRoutes fails t unless r routes exactly the operations document describes (see
// Operations and Routes), and returns the routed operations.
func CheckRoutes(t testing.TB, r *mux.Router, document []byte, catchAll ...string) []string {
	t.Helper()
	documented, err := Operations(document)
	if err != nil {
		t.Fatal(err)
	}
	routed, err := Routes(r, catchAll...)
	if err != nil {
		t.Error(err)
	}
	if !slices.Equal(documented, routed) {
		t.Errorf("routes and document differ:\nrouted     %q\ndocumented %q", routed, documented)
	}
	return routed
}

// UnresolvedRefs lists every "$ref" in an OpenAPI document that does not point at
// something the document defines, sorted. Only local references ("#/...") resolve.
func UnresolvedRefs(document []byte) ([]string, error) {
	var root any
	if err := json.Unmarshal(document, &root); err != nil {
		return nil, fmt.Errorf("apitest: OpenAPI document: %w", err)
	}
	var bad []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok && !resolves(root, ref) {
				bad = append(bad, ref)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(root)
	slices.Sort(bad)
	return bad, nil
}

// resolves reports whether the JSON pointer fragment ref names a value in root.
func resolves(root any, ref string) bool {
	pointer, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	node := root
	for _, part := range strings.Split(pointer, "/") {
		m, _ := node.(map[string]any)
		node = m[part]
	}
	return node != nil
}

// CheckRefs fails t for every "$ref" in document that does not resolve.
func CheckRefs(t testing.TB, document []byte) {
	t.Helper()
	bad, err := UnresolvedRefs(document)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range bad {
		t.Errorf("$ref %q does not resolve", ref)
	}
}

// LogBuffer collects what a logger writes from the server's goroutines; String
// returns everything written so far.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
