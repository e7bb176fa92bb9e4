package demo

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gorilla/mux"
)

func serve(t *testing.T, h *Handler, method string) *httptest.ResponseRecorder {
	t.Helper()
	r := mux.NewRouter()
	h.Mount(r)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(method, "/demo", nil))
	return rec
}

var devHandler = &Handler{
	Issuer:      "http://localhost:8080",
	ClientID:    "demo",
	RedirectURI: "http://localhost:9090/callback",
}

// authURL finds the "Try the QR login page now" link.
func authURL(t *testing.T, body string) *url.URL {
	t.Helper()
	m := regexp.MustCompile(`href="([^"]*)">Try the QR login page now<`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no QR login link:\n%s", body)
	}
	u, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestPage(t *testing.T) {
	rec := serve(t, devHandler, http.MethodGet)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`<link rel="stylesheet" href="/static/qrid.css">`, // the shared layout
		`go run ./examples/relying-party --client-secret &lt;client_secret&gt;`,
		`href="http://localhost:9090/">Open the demo website<`,
		`qrid login --issuer http://localhost:8080 --client-id demo-cli`,
		`qrid phone login --issuer http://localhost:8080 --username demo`,
		`qrid phone approve --match NN`,
		`href="http://localhost:8080/app"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, banned := range []string{"<script", "<style", " style=", "onclick"} {
		if strings.Contains(body, banned) {
			t.Errorf("page has inline %q, which the CSP blocks", banned)
		}
	}
}

func TestAuthURL(t *testing.T) {
	u := authURL(t, serve(t, devHandler, http.MethodGet).Body.String())
	if got, want := u.Scheme+"://"+u.Host+u.Path, "http://localhost:8080/oauth2/auth"; got != want {
		t.Errorf("link to %s, want %s", got, want)
	}
	q := u.Query()
	for k, want := range map[string]string{
		"response_type":         "code",
		"client_id":             "demo",
		"redirect_uri":          "http://localhost:9090/callback",
		"scope":                 "openid profile email",
		"code_challenge_method": "S256",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// An S256 challenge is the unpadded base64url of a SHA-256 digest: 43 characters.
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(q.Get("code_challenge")) {
		t.Errorf("code_challenge %q is not an S256 challenge", q.Get("code_challenge"))
	}
	if len(q.Get("state")) < 20 {
		t.Errorf("state %q is too short", q.Get("state"))
	}

	// Every load has its own state and challenge.
	q2 := authURL(t, serve(t, devHandler, http.MethodGet).Body.String()).Query()
	if q2.Get("state") == q.Get("state") || q2.Get("code_challenge") == q.Get("code_challenge") {
		t.Error("two loads share a state or a challenge")
	}
}

func TestCustomSetup(t *testing.T) {
	h := &Handler{Issuer: "https://id.example.test", ClientID: "site", RedirectURI: "https://rp.example.test/cb", CLIClientID: "term"}
	body := serve(t, h, http.MethodGet).Body.String()
	for _, want := range []string{
		"go run ./examples/relying-party --issuer https://id.example.test --client-id site --redirect-url https://rp.example.test/cb --client-secret",
		"qrid login --issuer https://id.example.test --client-id term",
		`href="https://rp.example.test/">Open the demo website<`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	q := authURL(t, body).Query()
	if q.Get("client_id") != "site" || q.Get("redirect_uri") != "https://rp.example.test/cb" {
		t.Errorf("auth link query %v", q)
	}
}

func TestHeadAndMethods(t *testing.T) {
	if rec := serve(t, devHandler, http.MethodHead); rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD: status %d, %d bytes", rec.Code, rec.Body.Len())
	}
	if rec := serve(t, devHandler, http.MethodPost); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", rec.Code)
	}
}
