// Package jsonapi holds what qrid's JSON APIs (the admin API in provider/admin and
// the mobile API in provider/mobile) do alike: reading a request body as one JSON
// object and saying, in a sentence for the caller, why a body was refused; writing
// JSON answers and the {"error", "message"} error body; reading a bearer token; and
// recording the status of an answer for the request log (provider's own handlers and
// metrics record it the same way).
//
// Each API keeps its own error type and codes: Decode reports a *BodyError whose
// Problem the API maps to its code, answering its Status and Message as they are.
package jsonapi
