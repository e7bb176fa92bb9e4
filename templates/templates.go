// Package templates holds qrid's pages (html/template) and their static assets,
// embedded in the binary so qrid needs no files at run time and no external CDN.
//
// Every page extends layout.html, which sets the document language and links only
// same-origin assets, so the pages work under the strict Content-Security-Policy the
// provider sends (default-src 'self').
package templates

import (
	"embed"
	"html/template"
	"io/fs"
)

//go:embed *.html
var pages embed.FS

//go:embed static
var static embed.FS

// Static returns the static assets (CSS, images), served under /static/.
func Static() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree always has the folder
	}
	return sub
}

// Parse parses every page with the layout; each page is executed by its file name
// (for example "login.html").
func Parse(funcs template.FuncMap) (map[string]*template.Template, error) {
	names, err := fs.Glob(pages, "*.html")
	if err != nil {
		return nil, err
	}
	out := make(map[string]*template.Template, len(names))
	for _, name := range names {
		if name == "layout.html" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(pages, "layout.html", name)
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}
