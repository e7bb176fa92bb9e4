package jsonapi

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// Problem is what is wrong with a request body.
type Problem int

const (
	// Empty: there is no body at all.
	Empty Problem = iota + 1
	// NotJSON: Content-Type is missing, malformed or not application/json.
	NotJSON
	// TooLarge: the body is longer than the limit.
	TooLarge
	// Invalid: the body is not exactly one JSON object of the expected shape
	// (malformed JSON, a value of the wrong type, an unknown field, data after it).
	Invalid
)

// BodyError is a request body Decode refused. Message is a sentence for the caller.
type BodyError struct {
	Problem Problem
	Message string
	// Err is what net/http or encoding/json reported, if anything.
	Err error
}

func (e *BodyError) Error() string { return e.Message }

func (e *BodyError) Unwrap() error { return e.Err }

// Status is the HTTP status that answers e: 415 for NotJSON, 413 for TooLarge and
// 400 otherwise.
func (e *BodyError) Status() int {
	switch e.Problem {
	case NotJSON:
		return http.StatusUnsupportedMediaType
	case TooLarge:
		return http.StatusRequestEntityTooLarge
	default:
		return http.StatusBadRequest
	}
}

// Code is the error code that answers e in qrid's JSON APIs: unsupported_media_type
// for NotJSON, request_too_large for TooLarge and invalid_request otherwise.
func (e *BodyError) Code() string {
	switch e.Problem {
	case NotJSON:
		return "unsupported_media_type"
	case TooLarge:
		return "request_too_large"
	default:
		return "invalid_request"
	}
}

func bodyError(p Problem, err error, format string, args ...any) *BodyError {
	return &BodyError{Problem: p, Message: fmt.Sprintf(format, args...), Err: err}
}

// RequireJSON refuses a request whose Content-Type is not application/json
// (parameters such as charset are allowed).
func RequireJSON(r *http.Request) *BodyError {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return bodyError(NotJSON, err, "The request body must be JSON, sent with Content-Type: application/json.")
	}
	return nil
}

// Decode reads r's body into v: one JSON object of at most maxBytes, sent as
// application/json, without unknown fields and with nothing after it. It returns nil
// once v is filled, and otherwise a *BodyError. An absent body is an Empty problem
// whatever the Content-Type, so that a caller may accept it where the body is
// optional. w is where http.MaxBytesReader signals that the connection must close.
func Decode(w http.ResponseWriter, r *http.Request, v any, maxBytes int64) *BodyError {
	body := bufio.NewReader(http.MaxBytesReader(w, r.Body, maxBytes))
	if _, err := body.Peek(1); err == io.EOF {
		return bodyError(Empty, nil, "The request body is empty; send a JSON object.")
	}
	if e := RequireJSON(r); e != nil {
		return e
	}
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describe(err, maxBytes)
	}
	if _, err := dec.Token(); err != io.EOF {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return describe(err, maxBytes)
		}
		return bodyError(Invalid, err, "The request body has data after the JSON object; send exactly one object.")
	}
	return nil
}

// describe says why decoding failed.
func describe(err error, maxBytes int64) *BodyError {
	var (
		tooLarge  *http.MaxBytesError
		syntax    *json.SyntaxError
		wrongType *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return bodyError(TooLarge, err, "The request body is larger than %d bytes.", maxBytes)
	case errors.As(err, &syntax):
		return bodyError(Invalid, err, "The request body is not valid JSON (at byte %d).", syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return bodyError(Invalid, err, "The request body ends in the middle of a JSON value.")
	case errors.As(err, &wrongType):
		if wrongType.Field == "" {
			return bodyError(Invalid, err, "The request body must be a JSON object, not a %s.", wrongType.Value)
		}
		return bodyError(Invalid, err, "Field %s has the wrong type: got a %s, want %s.",
			wrongType.Field, wrongType.Value, jsonKind(wrongType.Type.Kind().String()))
	default:
		// Unknown fields and the like: encoding/json's message names the field.
		return bodyError(Invalid, err, "The request body is not acceptable: %s.", strings.TrimPrefix(err.Error(), "json: "))
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
