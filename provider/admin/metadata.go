package admin

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ClientMetadata is a client's registration: RFC 7591 §2 metadata plus qrid's
// first_party. Empty fields take their defaults (see the package documentation).
type ClientMetadata struct {
	// ClientID is chosen by qrid when empty; otherwise it must match
	// ^[A-Za-z0-9._~-]{3,64}$.
	ClientID               string   `json:"client_id,omitempty"`
	ClientName             string   `json:"client_name"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// GrantTypes defaults to authorization_code and refresh_token when nil; an empty
	// non-nil list is refused.
	GrantTypes []string `json:"grant_types"`
	// ResponseTypes defaults to ["code"] when nil and authorization_code is granted.
	ResponseTypes []string `json:"response_types"`
	// Scope is the space-separated list of scopes the client may ask for.
	Scope                    string `json:"scope"`
	TokenEndpointAuthMethod  string `json:"token_endpoint_auth_method"`
	LogoURI                  string `json:"logo_uri,omitempty"`
	ClientURI                string `json:"client_uri,omitempty"`
	IDTokenSignedResponseAlg string `json:"id_token_signed_response_alg"`
	// FirstParty clients skip the consent page and number matching.
	FirstParty bool `json:"first_party"`
}

// Grant types and token endpoint authentication methods qrid knows.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"

	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthNone              = "none"
)

var (
	knownGrantTypes    = []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantDeviceCode}
	knownResponseTypes = []string{"code"}
	knownAuthMethods   = []string{AuthClientSecretBasic, AuthClientSecretPost, AuthNone}
	knownScopes        = []string{"openid", "profile", "email", "offline_access"}

	defaultGrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
	defaultScope      = "openid profile email offline_access"

	clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]{3,64}$`)
)

const (
	maxNameLen = 200
	maxURILen  = 2048
)

// normalize validates m and returns it with defaults filled in and surrounding
// whitespace removed. dev allows http on any host.
func normalize(m ClientMetadata, dev bool) (ClientMetadata, *Error) {
	out := ClientMetadata{
		ClientID:                 m.ClientID,
		LogoURI:                  strings.TrimSpace(m.LogoURI),
		ClientURI:                strings.TrimSpace(m.ClientURI),
		TokenEndpointAuthMethod:  strings.TrimSpace(m.TokenEndpointAuthMethod),
		IDTokenSignedResponseAlg: strings.TrimSpace(m.IDTokenSignedResponseAlg),
		FirstParty:               m.FirstParty,
	}
	if out.ClientID != "" && !clientIDPattern.MatchString(out.ClientID) {
		return out, invalidMetadata("client_id must be 3 to 64 characters of A-Z, a-z, 0-9, '.', '_', '~' and '-'.")
	}

	name, e := checkName("client_name", m.ClientName, true, invalidMetadata)
	if e != nil {
		return out, e
	}
	out.ClientName = name

	// grant_types (RFC 7591 §2.1).
	switch {
	case m.GrantTypes == nil:
		out.GrantTypes = slices.Clone(defaultGrantTypes)
	case len(m.GrantTypes) == 0:
		return out, invalidMetadata("grant_types must not be empty; leave it out for the default (authorization_code, refresh_token).")
	default:
		if e := checkList("grant_types", m.GrantTypes, knownGrantTypes); e != nil {
			return out, e
		}
		out.GrantTypes = slices.Clone(m.GrantTypes)
	}
	hasCode := slices.Contains(out.GrantTypes, GrantAuthorizationCode)
	if slices.Contains(out.GrantTypes, GrantRefreshToken) &&
		!hasCode && !slices.Contains(out.GrantTypes, GrantDeviceCode) {
		return out, invalidMetadata("grant type refresh_token needs a grant that issues refresh tokens: authorization_code or %s.", GrantDeviceCode)
	}

	// response_types must match the grants (RFC 7591 §2.1): code exactly when
	// authorization_code is granted.
	switch {
	case m.ResponseTypes == nil && hasCode:
		out.ResponseTypes = []string{"code"}
	case m.ResponseTypes == nil:
		out.ResponseTypes = []string{}
	default:
		if e := checkList("response_types", m.ResponseTypes, knownResponseTypes); e != nil {
			return out, e
		}
		out.ResponseTypes = slices.Clone(m.ResponseTypes)
	}
	if slices.Contains(out.ResponseTypes, "code") != hasCode {
		if hasCode {
			return out, invalidMetadata("response_types must contain code when grant_types contains authorization_code.")
		}
		return out, invalidMetadata("response_types contains code but grant_types does not contain authorization_code.")
	}

	// redirect_uris and post_logout_redirect_uris.
	uris, e := checkRedirectURIs("redirect_uris", m.RedirectURIs, dev)
	if e != nil {
		return out, e
	}
	out.RedirectURIs = uris
	if hasCode && len(out.RedirectURIs) == 0 {
		return out, invalidRedirectURI("redirect_uris must contain at least one URI for the authorization_code grant.")
	}
	if m.PostLogoutRedirectURIs != nil {
		uris, e := checkRedirectURIs("post_logout_redirect_uris", m.PostLogoutRedirectURIs, dev)
		if e != nil {
			return out, e
		}
		out.PostLogoutRedirectURIs = uris
	}

	// token_endpoint_auth_method.
	switch {
	case out.TokenEndpointAuthMethod == "":
		out.TokenEndpointAuthMethod = AuthClientSecretBasic
	case !slices.Contains(knownAuthMethods, out.TokenEndpointAuthMethod):
		return out, invalidMetadata("token_endpoint_auth_method %q is not supported; use one of %s.", out.TokenEndpointAuthMethod, strings.Join(knownAuthMethods, ", "))
	}
	if out.TokenEndpointAuthMethod == AuthNone && slices.Contains(out.GrantTypes, GrantClientCredentials) {
		return out, invalidMetadata("grant type client_credentials needs client authentication; token_endpoint_auth_method cannot be none.")
	}

	// scope.
	scopes := strings.Fields(m.Scope)
	if len(scopes) == 0 {
		scopes = strings.Fields(defaultScope)
	}
	if e := checkList("scope", scopes, knownScopes); e != nil {
		return out, e
	}
	out.Scope = strings.Join(scopes, " ")

	// logo_uri and client_uri.
	for _, f := range []struct{ name, value string }{{"logo_uri", out.LogoURI}, {"client_uri", out.ClientURI}} {
		if f.value == "" {
			continue
		}
		if err := checkWebURI(f.value, dev); err != nil {
			return out, invalidMetadata("%s %q %s.", f.name, f.value, err)
		}
	}

	// id_token_signed_response_alg.
	switch {
	case out.IDTokenSignedResponseAlg == "":
		out.IDTokenSignedResponseAlg = "ES256"
	case !slices.Contains(signingAlgs, out.IDTokenSignedResponseAlg):
		return out, invalidMetadata("id_token_signed_response_alg %q is not supported; use ES256 or RS256.", out.IDTokenSignedResponseAlg)
	}
	return out, nil
}

// checkList refuses empty, unknown and repeated values in the list called field.
func checkList(field string, values, known []string) *Error {
	for i, v := range values {
		if v == "" {
			return invalidMetadata("%s must not contain empty values.", field)
		}
		if !slices.Contains(known, v) {
			return invalidMetadata("%s: %q is not supported; use %s.", field, v, strings.Join(known, ", "))
		}
		if slices.Contains(values[:i], v) {
			return invalidMetadata("%s: %q appears more than once.", field, v)
		}
	}
	return nil
}

// checkRedirectURIs validates a list of redirection URIs and returns a copy that is
// never nil.
func checkRedirectURIs(field string, uris []string, dev bool) ([]string, *Error) {
	out := make([]string, 0, len(uris))
	for i, u := range uris {
		if err := checkRedirectURI(u, dev); err != nil {
			return nil, invalidRedirectURI("%s[%d] %q %s.", field, i, u, err)
		}
		if slices.Contains(out, u) {
			return nil, invalidRedirectURI("%s[%d] %q appears more than once.", field, i, u)
		}
		out = append(out, u)
	}
	return out, nil
}

// checkRedirectURI applies RFC 6749 §3.1.2 (absolute, no fragment), RFC 8252 §7.1
// (private-use schemes in reverse domain name form) and §7.3 (http for loopback
// only). The error completes the sentence "<field> <uri> ...".
func checkRedirectURI(raw string, dev bool) error {
	u, err := parseURI(raw)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "https":
		return checkHost(u)
	case "http":
		if err := checkHost(u); err != nil {
			return err
		}
		if !dev && !isLoopback(u.Hostname()) {
			return fmt.Errorf("must use https; http is only allowed for loopback hosts (127.0.0.1, [::1], localhost)")
		}
		return nil
	default:
		if !strings.Contains(u.Scheme, ".") {
			return fmt.Errorf("has scheme %q; a private-use scheme must be a reverse domain name containing a dot, such as com.example.app (RFC 8252 §7.1)", u.Scheme)
		}
		if u.Opaque == "" && u.Path == "" && u.Host == "" {
			return fmt.Errorf("has nothing after the scheme")
		}
		return nil
	}
}

// checkWebURI validates logo_uri and client_uri: absolute https (or http in dev).
func checkWebURI(raw string, dev bool) error {
	u, err := parseURI(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !dev) {
		return fmt.Errorf("must be an absolute https URL")
	}
	return checkHost(u)
}

// parseURI parses an absolute URI without a fragment.
func parseURI(raw string) (*url.URL, error) {
	if len(raw) > maxURILen {
		return nil, fmt.Errorf("is longer than %d bytes", maxURILen)
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f || r == utf8.RuneError }) {
		return nil, fmt.Errorf("contains spaces or control characters")
	}
	if strings.Contains(raw, "#") {
		return nil, fmt.Errorf("must not contain a fragment")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("is not a valid URI")
	}
	if !u.IsAbs() {
		return nil, fmt.Errorf("must be an absolute URI")
	}
	return u, nil
}

func checkHost(u *url.URL) error {
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("has no host")
	}
	if u.User != nil {
		return fmt.Errorf("must not contain user information")
	}
	return nil
}

// isLoopback reports whether host is one of the loopback names RFC 8252 §7.3
// allows http for.
func isLoopback(host string) bool {
	return host == "127.0.0.1" || host == "::1" || strings.EqualFold(host, "localhost")
}

// checkName trims a display name and checks its length and characters; fail makes
// the error.
func checkName(field, v string, required bool, fail func(format string, args ...any) *Error) (string, *Error) {
	v = strings.TrimSpace(v)
	if v == "" {
		if required {
			return "", fail("%s is required.", field)
		}
		return "", nil
	}
	if utf8.RuneCountInString(v) > maxNameLen {
		return "", fail("%s must be at most %d characters.", field, maxNameLen)
	}
	if strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) {
		return "", fail("%s must not contain control characters.", field)
	}
	return v, nil
}
