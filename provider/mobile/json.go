package mobile

import (
	"net/http"

	"github.com/qrid/qrid/provider/jsonapi"
)

// maxBodyBytes bounds request bodies (16 KiB); a larger body is answered 413.
const maxBodyBytes = 16 << 10

// decode reads r's body into v (see jsonapi.Decode) with at most maxBodyBytes. The
// Content-Type is checked first, so a call without a JSON body and without the JSON
// media type is answered 415. On failure it answers the error and returns false.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	e := jsonapi.RequireJSON(r)
	if e == nil {
		e = jsonapi.Decode(w, r, v, maxBodyBytes)
	}
	if e != nil {
		writeError(w, bodyError(e))
		return false
	}
	return true
}

// bodyError is the mobile API's answer to a refused request body.
func bodyError(e *jsonapi.BodyError) *apiError {
	return &apiError{Status: e.Status(), Code: e.Code(), Message: e.Message}
}

func writeError(w http.ResponseWriter, e *apiError) {
	jsonapi.WriteError(w, e.Status, e.Code, e.Message)
}
