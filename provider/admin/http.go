package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/qrid/qrid/provider/jsonapi"
)

// PathPrefix is where the admin API is mounted.
const PathPrefix = "/admin/v1"

// openAPIPath serves the OpenAPI document, the one route without authentication.
const openAPIPath = PathPrefix + "/openapi.json"

// maxBodyBytes bounds request bodies.
const maxBodyBytes = 64 << 10

// NewHandler serves svc's JSON API under /admin/v1, authenticating every call but the
// OpenAPI document with `Authorization: Bearer adminToken`. An empty adminToken
// refuses every authenticated call. A nil logger logs nothing.
func NewHandler(svc *Service, adminToken string, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &api{svc: svc, log: logger}
	router := a.router()
	// Go's profiles (net/http/pprof), behind the same token: CPU with
	// /debug/pprof/profile?seconds=20 (less than the admin listener's 30 s write
	// timeout), allocations with /debug/pprof/allocs.
	profiles := http.NewServeMux()
	profiles.HandleFunc("/debug/pprof/", pprof.Index)
	profiles.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	profiles.HandleFunc("/debug/pprof/profile", pprof.Profile)
	profiles.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	profiles.HandleFunc("/debug/pprof/trace", pprof.Trace)
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/debug/pprof/") {
			profiles.ServeHTTP(w, r)
			return
		}
		router.ServeHTTP(w, r)
	})
	h = requireToken(adminToken, h)
	h = a.recoverPanics(h)
	h = a.logRequests(h)
	return h
}

// api is the HTTP layer over a Service.
type api struct {
	svc *Service
	log *slog.Logger
}

// router routes the API. Routes carry their methods so that the OpenAPI test can walk
// them; a method mismatch is answered with 405 and the Allow header.
func (a *api) router() *mux.Router {
	// Paths are matched as sent: cleaning would answer some with a redirect instead
	// of JSON, and an ID is never "." or "..".
	r := mux.NewRouter().SkipClean(true)
	v1 := func(path string, h http.HandlerFunc, method string) {
		r.HandleFunc(PathPrefix+path, h).Methods(method)
	}
	r.HandleFunc(openAPIPath, serveOpenAPI).Methods(http.MethodGet)

	v1("/clients", a.createClient, http.MethodPost)
	v1("/clients", a.listClients, http.MethodGet)
	v1("/clients/{id}", a.getClient, http.MethodGet)
	v1("/clients/{id}", a.updateClient, http.MethodPut)
	v1("/clients/{id}", a.deleteClient, http.MethodDelete)
	v1("/clients/{id}/secret", a.rotateClientSecret, http.MethodPost)

	v1("/users", a.createUser, http.MethodPost)
	v1("/users", a.listUsers, http.MethodGet)
	v1("/users/{id}", a.getUser, http.MethodGet)
	v1("/users/{id}", a.deleteUser, http.MethodDelete)
	v1("/users/{id}/devices", a.listUserDevices, http.MethodGet)
	v1("/devices/{id}", a.revokeDevice, http.MethodDelete)

	v1("/keys", a.listKeys, http.MethodGet)
	v1("/keys/rotate", a.rotateKeys, http.MethodPost)

	v1("/audit", a.listAuditEvents, http.MethodGet)

	notFound := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, newError(http.StatusNotFound, CodeNotFound, "No admin API route matches %s.", req.URL.Path))
	})
	r.NotFoundHandler = notFound
	methodNotAllowed := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		allow := allowedMethods(r, req)
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, newError(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
			"%s is not allowed on %s; use %s.", req.Method, req.URL.Path, strings.Join(allow, " or ")))
	})
	r.MethodNotAllowedHandler = methodNotAllowed
	return r
}

// allowedMethods lists the methods r serves on req's path.
func allowedMethods(r *mux.Router, req *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := req.Clone(req.Context())
		probe.Method = m
		var match mux.RouteMatch
		if r.Match(probe, &match) && match.MatchErr == nil {
			allow = append(allow, m)
		}
	}
	return allow
}

// Handlers.

func (a *api) createClient(w http.ResponseWriter, r *http.Request) {
	var m ClientMetadata
	if !a.decode(w, r, &m, false) {
		return
	}
	info, err := a.svc.CreateClient(r.Context(), m)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", PathPrefix+"/clients/"+info.ClientID)
	jsonapi.Write(w, http.StatusCreated, info)
}

func (a *api) listClients(w http.ResponseWriter, r *http.Request) {
	cs, err := a.svc.ListClients(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	jsonapi.Write(w, http.StatusOK, struct {
		Clients []ClientInfo `json:"clients"`
	}{cs})
}

func (a *api) getClient(w http.ResponseWriter, r *http.Request) {
	info, err := a.svc.GetClient(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		a.fail(w, r, err)
		return
	}
	jsonapi.Write(w, http.StatusOK, info)
}

func (a *api) updateClient(w http.ResponseWriter, r *http.Request) {
	var m ClientMetadata
	if !a.decode(w, r, &m, false) {
		return
	}
	info, err := a.svc.UpdateClient(r.Context(), mux.Vars(r)["id"], m)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	jsonapi.Write(w, http.StatusOK, info)
}

func (a *api) deleteClient(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.DeleteClient(r.Context(), mux.Vars(r)["id"]); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) rotateClientSecret(w http.ResponseWriter, r *http.Request) {
	info, err := a.svc.RotateClientSecret(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		a.fail(w, r, err)
		return
	}
	jsonapi.Write(w, http.StatusOK, info)
}

func (a *api) createUser(w http.ResponseWriter, r *http.Request) {
	var u NewUser
	if !a.decode(w, r, &u, false) {
		return
	}
	info, err := a.svc.CreateUser(r.Context(), u)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", PathPrefix+"/users/"+info.ID)
	jsonapi.Write(w, http.StatusCreated, info)
}

func (a *api) listUsers(w http.ResponseWriter, r *http.Request) {
	us, err := a.svc.ListUsers(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	jsonapi.Write(w, http.StatusOK, struct {
		Users []UserInfo `json:"users"`
	}{us})
}

func (a *api) getUser(w http.ResponseWriter, r *http.Request) {
	info, err := a.svc.GetUser(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		a.fail(w, r, err)
		return
	}
	jsonapi.Write(w, http.StatusOK, info)
}

func (a *api) deleteUser(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.DeleteUser(r.Context(), mux.Vars(r)["id"]); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type keyList struct {
	Keys []KeyInfo `json:"keys"`
}

func (a *api) listKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := a.svc.ListKeys(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	jsonapi.Write(w, http.StatusOK, keyList{keys})
}

// RotateKeysRequest is the optional body of POST /admin/v1/keys/rotate.
type RotateKeysRequest struct {
	// Alg is "ES256" or "RS256"; empty rotates every algorithm's key.
	Alg string `json:"alg,omitempty"`
}

func (a *api) rotateKeys(w http.ResponseWriter, r *http.Request) {
	var req RotateKeysRequest
	if !a.decode(w, r, &req, true) {
		return
	}
	keys, err := a.svc.RotateKeys(r.Context(), req.Alg)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	jsonapi.Write(w, http.StatusOK, keyList{keys})
}

// Request bodies.

// decode reads r's body into v (see jsonapi.Decode) with at most maxBodyBytes. An
// empty body is accepted when optional. On failure it answers the error and returns
// false.
func (a *api) decode(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	if e := jsonapi.Decode(w, r, v, maxBodyBytes); e != nil && !(optional && e.Problem == jsonapi.Empty) {
		writeError(w, bodyError(e))
		return false
	}
	return true
}

// bodyError is the admin API's answer to a refused request body.
func bodyError(e *jsonapi.BodyError) *Error {
	return &Error{Status: e.Status(), Code: e.Code(), Message: e.Message, cause: e}
}

// Responses.

func writeError(w http.ResponseWriter, e *Error) {
	jsonapi.WriteError(w, e.Status, e.Code, e.Message)
}

// fail answers err: an *Error as it is, anything else as a logged 500 whose details
// stay in the log.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if errors.As(err, &e) {
		writeError(w, e)
		return
	}
	a.log.ErrorContext(r.Context(), "admin request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	writeError(w, newError(http.StatusInternalServerError, CodeInternal, "The server failed to handle the request; the error is logged."))
}

// Middleware.

// requireToken lets a request through when it carries the bearer token, compared in
// constant time (both sides are hashed first, so neither length leaks). The OpenAPI
// document is public.
func requireToken(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == openAPIPath {
			next.ServeHTTP(w, r)
			return
		}
		got, ok := jsonapi.BearerToken(r)
		gotSum := sha256.Sum256([]byte(got))
		if !ok || token == "" || subtle.ConstantTimeCompare(gotSum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="qrid-admin"`)
			msg := "The admin token is missing; send Authorization: Bearer <token>."
			if ok {
				msg = "The admin token is wrong."
			}
			writeError(w, newError(http.StatusUnauthorized, CodeUnauthorized, "%s", msg))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic in a handler into a logged 500.
func (a *api) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.log.ErrorContext(r.Context(), "admin handler panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if sw, ok := w.(*jsonapi.StatusRecorder); !ok || !sw.Written() {
				writeError(w, newError(http.StatusInternalServerError, CodeInternal, "The server failed to handle the request; the error is logged."))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// logRequests sets the headers every answer carries and logs each request: method,
// path, status and duration, never bodies or headers.
func (a *api) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		sw := &jsonapi.StatusRecorder{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		a.log.InfoContext(r.Context(), "admin request", "method", r.Method, "path", r.URL.Path,
			"status", sw.Status(), "duration", time.Since(start))
	})
}
