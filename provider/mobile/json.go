package mobile

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
)

// maxBodyBytes bounds request bodies (16 KiB); a larger body is answered 413.
const maxBodyBytes = 16 << 10

// decode reads r's body into v: one JSON object of at most maxBodyBytes, sent as
// application/json, without unknown fields and with nothing after it. On failure it
// answers the error and returns false.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, newError(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
			"The request body must be JSON, sent with Content-Type: application/json."))
		return false
	}
	body := bufio.NewReader(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if _, err := body.Peek(1); err == io.EOF {
		writeError(w, invalidRequest("The request body is empty; send a JSON object."))
		return false
	}
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, decodeError(err))
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, decodeError(err))
			return false
		}
		writeError(w, invalidRequest("The request body has data after the JSON object; send exactly one object."))
		return false
	}
	return true
}

// decodeError describes a JSON decoding failure.
func decodeError(err error) *apiError {
	var (
		tooLarge  *http.MaxBytesError
		syntax    *json.SyntaxError
		wrongType *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return newError(http.StatusRequestEntityTooLarge, CodeRequestTooLarge,
			"The request body is larger than %d bytes.", maxBodyBytes)
	case errors.As(err, &syntax):
		return invalidRequest("The request body is not valid JSON (at byte %d).", syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalidRequest("The request body ends in the middle of a JSON value.")
	case errors.As(err, &wrongType):
		if wrongType.Field == "" {
			return invalidRequest("The request body must be a JSON object, not a %s.", wrongType.Value)
		}
		return invalidRequest("Field %s has the wrong type: got a %s, want %s.",
			wrongType.Field, wrongType.Value, jsonKind(wrongType.Type.Kind().String()))
	default:
		// Unknown fields and the like: encoding/json's message names the field.
		return invalidRequest("The request body is not acceptable: %s.", strings.TrimPrefix(err.Error(), "json: "))
	}
}

// jsonKind names a Go kind as a JSON type.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	default:
		return "a number"
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the app may be gone; nothing to do
}

type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, errorBody{Error: e.Code, Message: e.Message})
}
