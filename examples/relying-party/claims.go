package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// claimRow is one line of the claims table on the home page.
type claimRow struct {
	Name  string
	Value string
	About string // what the claim means, for the well-known ones
}

// knownClaims are shown first, in this order, with a word on what they mean; any
// other claim follows in alphabetical order.
var knownClaims = []struct{ name, about string }{
	{"sub", "your account's stable ID at qrid, unique to you"},
	{"name", "full name"},
	{"preferred_username", "username"},
	{"email", "email address"},
	{"email_verified", "whether qrid checked the address"},
	{"amr", "how you authenticated"},
	{"acr", "authentication context class"},
	{"auth_time", "when you authenticated"},
	{"iss", "who issued the ID token"},
	{"aud", "who the ID token is for (this site's client ID)"},
	{"azp", "the client the token was issued to"},
	{"iat", "when the ID token was issued"},
	{"exp", "when the ID token expires"},
	{"nonce", "this site's nonce, echoed back"},
	{"at_hash", "hash binding the access token to the ID token"},
	{"sid", "qrid's session ID"},
	{"jti", "the ID token's unique ID"},
	{"rat", "when this site asked for the sign-in"},
}

// timeClaims hold seconds since the epoch and are shown as dates.
var timeClaims = map[string]bool{"auth_time": true, "iat": true, "exp": true, "nbf": true, "updated_at": true, "rat": true}

func claimRows(claims map[string]any) []claimRow {
	var rows []claimRow
	seen := make(map[string]bool, len(knownClaims))
	for _, k := range knownClaims {
		seen[k.name] = true
		if v, ok := claims[k.name]; ok {
			rows = append(rows, claimRow{Name: k.name, Value: formatClaim(k.name, v), About: k.about})
		}
	}
	var rest []string
	for name := range claims {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	for _, name := range rest {
		rows = append(rows, claimRow{Name: name, Value: formatClaim(name, claims[name])})
	}
	return rows
}

func formatClaim(name string, v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64: // encoding/json decodes every number into a float64
		if timeClaims[name] {
			return time.Unix(int64(v), 0).UTC().Format("Mon 2 Jan 2006 15:04:05 UTC")
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = formatClaim("", e)
		}
		return strings.Join(parts, ", ")
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
}

// displayName is how the home page greets the signed-in person.
func displayName(claims map[string]any) string {
	for _, k := range []string{"name", "preferred_username", "email", "sub"} {
		if s, ok := claims[k].(string); ok && s != "" {
			return s
		}
	}
	return "(unknown)"
}
