package jsonapi

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Write answers status with v as JSON. <, > and & are sent as they are: the answers
// are read by programs, never embedded in a page.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the caller may be gone; nothing to do
}

// ErrorBody is the body of every error answer: a code the caller can switch on and a
// sentence it can show.
type ErrorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// WriteError answers status with {"error": code, "message": message}.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	Write(w, status, ErrorBody{Error: code, Message: message})
}

// BearerToken extracts the token of an `Authorization: Bearer` header (RFC 6750
// §2.1; the scheme is case-insensitive). It reports false when there is none.
func BearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
