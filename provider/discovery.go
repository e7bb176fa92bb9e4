package provider

import (
	"net/http"
)

// discovery serves OpenID Connect Discovery 1.0 §3: exactly what qrid supports.
func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	iss := p.cfg.Issuer
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                        iss,
		"authorization_endpoint":                        iss + "/oauth2/auth",
		"token_endpoint":                                iss + "/oauth2/token",
		"userinfo_endpoint":                             iss + "/userinfo",
		"jwks_uri":                                      iss + "/.well-known/jwks.json",
		"introspection_endpoint":                        iss + "/oauth2/introspect",
		"revocation_endpoint":                           iss + "/oauth2/revoke",
		"end_session_endpoint":                          iss + "/oauth2/logout",
		"device_authorization_endpoint":                 iss + "/oauth2/device/auth",
		"scopes_supported":                              supportedScopes,
		"response_types_supported":                      []string{"code"},
		"response_modes_supported":                      []string{"query"},
		"grant_types_supported":                         grantTypes,
		"subject_types_supported":                       []string{"public"},
		"id_token_signing_alg_values_supported":         []string{"ES256", "RS256"},
		"token_endpoint_auth_methods_supported":         []string{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "none"},
		"code_challenge_methods_supported":              []string{"S256"},
		"claims_supported": []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "sid",
			"at_hash", "name", "preferred_username", "email", "email_verified", "qrid_device"},
		"prompt_values_supported":         []string{"none", "login", "consent"},
		"claims_parameter_supported":      false,
		"request_parameter_supported":     false,
		"request_uri_parameter_supported": false,
		"frontchannel_logout_supported":   false,
		"backchannel_logout_supported":    false,
	})
}

// jwks serves the public signing keys: the active ones and the retired ones still
// verifying unexpired tokens.
func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	set, err := p.keys.JWKS(r.Context())
	if err != nil {
		p.log.Error("jwks", "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, "unavailable", "The signing keys cannot be read right now.")
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=60")
	writeJSON(w, http.StatusOK, set)
}

func (p *Provider) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz reports ready when the store answers.
func (p *Provider) readyz(w http.ResponseWriter, r *http.Request) {
	if err := p.store.Ping(r.Context()); err != nil {
		p.log.Warn("readiness check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "message": "The store does not answer."})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
