package webapp

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	_ "image/png" // decodes the icons
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/qrid/qrid/templates"
)

// element is one start tag of the shell, with its text content up to its end tag.
type element struct {
	name  string
	attrs map[string]string
	text  string
}

// parseShell reads the shell as /app serves it for an Accept-Language value with
// encoding/xml in its lenient HTML mode; the shell is written so that this works
// (every attribute has a quoted value, void elements are self-closed).
func parseShell(t *testing.T, acceptLanguage string) []*element {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(renderedShell(t, acceptLanguage)))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var all, open []*element
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parse the shell: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := &element{name: strings.ToLower(tok.Name.Local), attrs: map[string]string{}}
			for _, a := range tok.Attr {
				e.attrs[strings.ToLower(a.Name.Local)] = a.Value
			}
			all = append(all, e)
			open = append(open, e)
		case xml.EndElement:
			if len(open) > 0 {
				open = open[:len(open)-1]
			}
		case xml.CharData:
			for _, e := range open {
				e.text += string(tok)
			}
		}
	}
	return all
}

// sameOrigin reports whether ref is a path on this origin.
func sameOrigin(ref string) bool {
	return strings.HasPrefix(ref, "/") && !strings.HasPrefix(ref, "//")
}

// staticFile maps a /static/ URL to its name in templates.Static(), or "".
func staticFile(ref string) string {
	name, ok := strings.CutPrefix(ref, "/static/")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(name, "?#"); i >= 0 {
		name = name[:i]
	}
	return name
}

func mustExist(t *testing.T, ref string) {
	t.Helper()
	name := staticFile(ref)
	if name == "" {
		t.Errorf("%q is not under /static/", ref)
		return
	}
	info, err := fs.Stat(templates.Static(), name)
	if err != nil {
		t.Errorf("%q: %v", ref, err)
		return
	}
	if info.Size() == 0 {
		t.Errorf("%q is empty", ref)
	}
}

func TestShellMarkup(t *testing.T) {
	for accept, lang := range map[string]string{"": "en", "zh-CN": "zh-Hans"} {
		t.Run(lang, func(t *testing.T) { checkShellMarkup(t, accept, lang) })
	}
}

func checkShellMarkup(t *testing.T, acceptLanguage, lang string) {
	elems := parseShell(t, acceptLanguage)
	ids := map[string]*element{}
	labels := map[string]bool{}
	classes := map[string]int{}
	var scripts []*element
	var manifest string
	for _, e := range elems {
		if id := e.attrs["id"]; id != "" {
			if ids[id] != nil {
				t.Errorf("id %q used twice", id)
			}
			ids[id] = e
		}
		if e.name == "label" {
			labels[e.attrs["for"]] = true
		}
		for c := range strings.FieldsSeq(e.attrs["class"]) {
			classes[c]++
		}
		// default-src 'self': no inline style, no handlers in markup.
		if e.name == "style" {
			t.Error("the shell has a <style> element")
		}
		for name, v := range e.attrs {
			if name == "style" {
				t.Errorf("<%s> has a style attribute", e.name)
			}
			if strings.HasPrefix(name, "on") {
				t.Errorf("<%s> has the handler %s", e.name, name)
			}
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), "javascript:") {
				t.Errorf("<%s %s> is a javascript: URL", e.name, name)
			}
		}
		if e.name == "script" {
			scripts = append(scripts, e)
		}
		if e.name == "link" && e.attrs["rel"] == "manifest" {
			manifest = e.attrs["href"]
		}
		// Every asset the shell names is same-origin and embedded.
		for _, attr := range []string{"src", "href"} {
			ref, ok := e.attrs[attr]
			if !ok || (e.name == "a" && strings.HasPrefix(ref, "#")) {
				continue
			}
			if !sameOrigin(ref) {
				t.Errorf("<%s %s=%q> is not same-origin", e.name, attr, ref)
				continue
			}
			mustExist(t, ref)
		}
	}

	if h := elems[0]; h.name != "html" || h.attrs["lang"] != lang {
		t.Errorf("the document does not start with <html lang=%s>: %+v", lang, h)
	}
	if manifest != "/static/app/manifest.webmanifest" {
		t.Errorf("manifest link %q", manifest)
	}

	// Scripts: jsQR first as a classic script (it sets window.jsQR), then the
	// module; none inline.
	if len(scripts) != 2 {
		t.Fatalf("%d scripts, want jsQR and app.js", len(scripts))
	}
	for _, s := range scripts {
		if strings.TrimSpace(s.text) != "" {
			t.Errorf("inline script %q", s.text)
		}
		if s.attrs["src"] == "" {
			t.Error("script without src")
		}
	}
	if s := scripts[0]; s.attrs["src"] != "/static/app/vendor/jsQR.js" || s.attrs["type"] != "" {
		t.Errorf("first script %v, want the classic jsQR script", s.attrs)
	}
	if s := scripts[1]; s.attrs["src"] != "/static/app/app.js" || s.attrs["type"] != "module" {
		t.Errorf("second script %v, want the app module", s.attrs)
	}

	// The controls browser tests find, and a label for every field.
	for _, id := range []string{"username", "password", "sign-in", "user-code", "submit-code", "approve", "deny", "status",
		"start-camera", "photo", "result-title", "device-list", "sign-out", "nav-scan", "nav-devices",
		"view-signin", "view-scan", "view-confirm", "view-result", "view-devices", "camera", "countdown", "match"} {
		if ids[id] == nil {
			t.Errorf("no element #%s", id)
		}
	}
	if n := classes["match-choice"]; n != 3 {
		t.Errorf("%d .match-choice buttons, want 3", n)
	}
	if s := ids["status"]; s != nil && s.attrs["aria-live"] != "polite" {
		t.Errorf("#status aria-live=%q", s.attrs["aria-live"])
	}
	for _, e := range elems {
		if e.name == "input" && !labels[e.attrs["id"]] {
			t.Errorf("input #%s has no label", e.attrs["id"])
		}
		if e.name == "button" && e.attrs["type"] == "" {
			t.Errorf("button #%s has no type", e.attrs["id"])
		}
	}
	if p := ids["photo"]; p != nil && (p.attrs["accept"] != "image/*" || p.attrs["capture"] != "environment") {
		t.Errorf("photo input %v", p.attrs)
	}
	if ids["password"] != nil && ids["password"].attrs["type"] != "password" {
		t.Error("#password is not a password field")
	}
}

type manifestIcon struct {
	Src     string `json:"src"`
	Sizes   string `json:"sizes"`
	Type    string `json:"type"`
	Purpose string `json:"purpose"`
}

func TestManifest(t *testing.T) {
	b, err := fs.ReadFile(templates.Static(), "app/manifest.webmanifest")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Name            string         `json:"name"`
		ShortName       string         `json:"short_name"`
		StartURL        string         `json:"start_url"`
		Scope           string         `json:"scope"`
		Display         string         `json:"display"`
		ThemeColor      string         `json:"theme_color"`
		BackgroundColor string         `json:"background_color"`
		Icons           []manifestIcon `json:"icons"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if m.Name == "" || m.ShortName == "" {
		t.Error("manifest without name or short_name")
	}
	if m.StartURL != "/app" || m.Display != "standalone" {
		t.Errorf("start_url %q, display %q", m.StartURL, m.Display)
	}
	if !strings.HasPrefix(m.StartURL, m.Scope) {
		t.Errorf("start_url %q outside scope %q", m.StartURL, m.Scope)
	}
	hexColour := regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	if !hexColour.MatchString(m.ThemeColor) || !hexColour.MatchString(m.BackgroundColor) {
		t.Errorf("theme_color %q, background_color %q", m.ThemeColor, m.BackgroundColor)
	}
	// The shell's theme-color meta matches the manifest.
	if !strings.Contains(shellFile(t), `<meta name="theme-color" content="`+m.ThemeColor+`"`) {
		t.Error("the shell's theme-color differs from the manifest's")
	}

	have := map[string]bool{}
	for _, icon := range m.Icons {
		if !sameOrigin(icon.Src) {
			t.Errorf("icon %q is not same-origin", icon.Src)
			continue
		}
		mustExist(t, icon.Src)
		switch icon.Type {
		case "image/svg+xml":
			have["svg"] = true
		case "image/png":
			checkPNG(t, icon)
			have[icon.Sizes] = true
		default:
			t.Errorf("icon %q of type %q", icon.Src, icon.Type)
		}
	}
	for _, want := range []string{"svg", "192x192", "512x512"} {
		if !have[want] {
			t.Errorf("no %s icon", want)
		}
	}
}

// checkPNG checks that a PNG icon decodes and has the size the manifest says.
func checkPNG(t *testing.T, icon manifestIcon) {
	t.Helper()
	b, err := fs.ReadFile(templates.Static(), staticFile(icon.Src))
	if err != nil {
		return // reported by mustExist
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || format != "png" {
		t.Errorf("icon %q: %v (format %q)", icon.Src, err, format)
		return
	}
	if got := fmt.Sprintf("%dx%d", cfg.Width, cfg.Height); got != icon.Sizes {
		t.Errorf("icon %q is %s, manifest says %s", icon.Src, got, icon.Sizes)
	}
}

// TestModuleImports checks that every relative import of the app's modules names
// an embedded file.
func TestModuleImports(t *testing.T) {
	imp := regexp.MustCompile(`(?m)^\s*(?:import|export)\b[^;]*?(?:from\s+)?"(\.{1,2}/[^"]+)"`)
	files, err := fs.Glob(templates.Static(), "app/*.js")
	if err != nil || len(files) == 0 {
		t.Fatalf("no modules: %v", err)
	}
	found := 0
	for _, f := range files {
		b, err := fs.ReadFile(templates.Static(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range imp.FindAllStringSubmatch(string(b), -1) {
			found++
			target := path.Join(path.Dir(f), m[1])
			if _, err := fs.Stat(templates.Static(), target); err != nil {
				t.Errorf("%s imports %s: %v", f, m[1], err)
			}
		}
	}
	if found == 0 {
		t.Error("found no imports; app.js imports logic.js")
	}
}

func TestVendoredJSQR(t *testing.T) {
	js, err := fs.ReadFile(templates.Static(), "app/vendor/jsQR.js")
	if err != nil {
		t.Fatal(err)
	}
	// The UMD wrapper sets the global the app calls.
	if len(js) < 100_000 || !bytes.Contains(js, []byte(`root["jsQR"] = factory()`)) {
		t.Errorf("vendor/jsQR.js (%d bytes) is not jsQR's UMD build", len(js))
	}
	lic, err := fs.ReadFile(templates.Static(), "app/vendor/jsQR.LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(lic, []byte("Apache License")) {
		t.Error("vendor/jsQR.LICENSE is not jsQR's Apache license")
	}

	// The pin the copy came from: package.json and its lock agree on 1.4.0.
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	readJSON(t, "../../web/package.json", &pkg)
	if v := pkg.Dependencies["jsqr"]; v != "1.4.0" {
		t.Errorf("web/package.json pins jsqr %q, want exactly 1.4.0", v)
	}
	var lock struct {
		Packages map[string]struct {
			Version   string `json:"version"`
			Integrity string `json:"integrity"`
		} `json:"packages"`
	}
	readJSON(t, "../../web/package-lock.json", &lock)
	if p := lock.Packages["node_modules/jsqr"]; p.Version != "1.4.0" || p.Integrity == "" {
		t.Errorf("web/package-lock.json has jsqr %+v", p)
	}
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}
