package demo

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/gorilla/mux"

	"github.com/qrid/qrid/templates"
)

// DefaultCLIClientID is the demo terminal client `qrid serve --dev` seeds.
const DefaultCLIClientID = "demo-cli"

// The relying party's defaults: the command on the page repeats only the flags
// that differ from them.
const (
	rpDefaultIssuer      = "http://localhost:8080"
	rpDefaultClientID    = "demo"
	rpDefaultRedirectURL = "http://localhost:9090/callback"
)

// Handler serves the /demo page.
type Handler struct {
	Issuer      string // qrid's issuer URL, without a trailing slash
	ClientID    string // the demo website client (confidential, authorization code)
	RedirectURI string // a redirect URI registered for ClientID: the demo website's callback
	CLIClientID string // the demo terminal client; empty means DefaultCLIClientID
	Logger      *slog.Logger
}

// Mount registers GET (and HEAD) /demo on r.
func (h *Handler) Mount(r *mux.Router) {
	r.HandleFunc("/demo", h.serve).Methods(http.MethodGet, http.MethodHead)
}

// page is templates/demo.html with the layout, parsed once.
var page = sync.OnceValues(func() (*template.Template, error) {
	pages, err := templates.Parse(template.FuncMap{})
	if err != nil {
		return nil, err
	}
	t, ok := pages["demo.html"]
	if !ok {
		return nil, errors.New("demo: templates has no demo.html")
	}
	return t, nil
})

// pageData is what demo.html shows.
type pageData struct {
	Issuer      string
	ClientID    string
	RedirectURI string
	AuthURL     string // the direct link into the authorization endpoint
	SiteURL     string // the demo website's home page
	SiteCommand string // how to run the demo website
	AppURL      string // the mobile web app
	Terminal    []string
	Phone       []string
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	auth, err := h.authURL()
	if err != nil {
		h.log().ErrorContext(r.Context(), "demo: authorization link", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	cli := h.CLIClientID
	if cli == "" {
		cli = DefaultCLIClientID
	}
	data := pageData{
		Issuer:      h.Issuer,
		ClientID:    h.ClientID,
		RedirectURI: h.RedirectURI,
		AuthURL:     auth,
		SiteURL:     siteURL(h.RedirectURI),
		SiteCommand: h.siteCommand(),
		AppURL:      h.Issuer + "/app",
		Terminal:    []string{"qrid login --issuer " + h.Issuer + " --client-id " + cli},
		Phone: []string{
			"qrid phone login --issuer " + h.Issuer + " --username demo",
			"qrid phone scan --user-code CODE",
			"qrid phone approve --match NN",
		},
	}
	t, err := page()
	if err != nil {
		h.log().ErrorContext(r.Context(), "parse page", "page", "demo.html", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	// Render into a buffer first so a template failure is a clean 500, not half a
	// page.
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		h.log().ErrorContext(r.Context(), "render page", "page", "demo.html", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// authURL is an authorization request for the demo client with a fresh state and
// a PKCE S256 challenge (RFC 7636 §4.2) of a fresh verifier, which is not kept.
func (h *Handler) authURL() (string, error) {
	u, err := url.Parse(h.Issuer + "/oauth2/auth")
	if err != nil {
		return "", err
	}
	verifier := make([]byte, 32)
	_, _ = rand.Read(verifier) // crypto/rand.Read never fails
	challenge := sha256.Sum256([]byte(base64.RawURLEncoding.EncodeToString(verifier)))
	u.RawQuery = url.Values{
		"response_type":         {"code"},
		"client_id":             {h.ClientID},
		"redirect_uri":          {h.RedirectURI},
		"scope":                 {"openid profile email"},
		"state":                 {rand.Text()},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(challenge[:])},
		"code_challenge_method": {"S256"},
	}.Encode()
	return u.String(), nil
}

// siteCommand is the command that runs the demo website against this qrid.
func (h *Handler) siteCommand() string {
	args := []string{"go run ./examples/relying-party"}
	if h.Issuer != rpDefaultIssuer {
		args = append(args, "--issuer "+h.Issuer)
	}
	if h.ClientID != rpDefaultClientID {
		args = append(args, "--client-id "+h.ClientID)
	}
	if h.RedirectURI != rpDefaultRedirectURL {
		args = append(args, "--redirect-url "+h.RedirectURI)
	}
	return strings.Join(append(args, "--client-secret <client_secret>"), " ")
}

// siteURL is the home page of the website whose callback is redirectURI.
func siteURL(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil || u.Host == "" {
		return ""
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/"}).String()
}

func (h *Handler) log() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}
