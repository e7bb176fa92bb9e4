package provider_test

import (
	"encoding/base64"

	"github.com/qrid/qrid/provider/admin"
)

type adminClient = admin.ClientInfo

func jsonBase64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
