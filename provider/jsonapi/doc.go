// Package jsonapi holds what qrid's JSON APIs (the admin API in provider/admin and
// the mobile API in provider/mobile) do alike: reading a request body as one JSON
// object and describing, in a sentence for the caller, why a body was refused; and
// recording the status of an answer for the request log (provider's own handlers use
// that too).
//
// Each API keeps its own error type and codes: Decode reports a *BodyError whose
// Problem the API maps to its code and whose Status and Message it answers as they are.
package jsonapi
