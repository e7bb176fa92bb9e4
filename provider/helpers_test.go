package provider_test

import (
	"encoding/base64"

	"golang.org/x/oauth2"
	"time"

	"github.com/qrid/qrid/provider/admin"
)

type adminClient = admin.ClientInfo

func jsonBase64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// expired makes x/oauth2 refresh at once.
var expired = time.Unix(1, 0)

// refreshOnly is a token that x/oauth2 must refresh before use.
func refreshOnly(rt string) *oauth2.Token { return &oauth2.Token{RefreshToken: rt, Expiry: expired} }
