// Package templates holds qrid's pages (html/template) and their static assets,
// embedded in the binary so qrid needs no files at run time and no external CDN.
//
// Every page extends layout.html, which sets the document language and links only
// same-origin assets, so the pages work under the strict Content-Security-Policy the
// provider sends (default-src 'self').
//
// Every word a page shows goes through the t function ({{t "login.heading"}}, with
// fmt arguments when the message has them), which looks the key up in the catalog of
// provider/i18n; {{lang}} is the page's language tag. Parse parses each page once per
// language qrid speaks, so a page is chosen, not translated, at request time.
package templates

import (
	"embed"
	"html/template"
	"io/fs"

	"golang.org/x/text/language"

	"github.com/qrid/qrid/provider/i18n"
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

// Name is the key under which Parse stores page in lang, for example
// "zh-Hans/login.html".
func Name(lang language.Tag, page string) string { return lang.String() + "/" + page }

// Parse parses every page with the layout, once per language of i18n.Supported;
// each page is executed by its name (Name(lang, "login.html")), and the bare file
// name ("login.html") is the English page. funcs are added to every page; the names
// t and lang are the pages' own and cannot be replaced.
func Parse(funcs template.FuncMap) (map[string]*template.Template, error) {
	names, err := fs.Glob(pages, "*.html")
	if err != nil {
		return nil, err
	}
	out := make(map[string]*template.Template, len(names)*(len(i18n.Supported)+1))
	for _, lang := range i18n.Supported {
		all := template.FuncMap{}
		for k, f := range funcs {
			all[k] = f
		}
		all["t"] = func(key string, args ...any) string { return i18n.T(lang, key, args...) }
		all["lang"] = lang.String
		for _, name := range names {
			if name == "layout.html" {
				continue
			}
			t, err := template.New(name).Funcs(all).ParseFS(pages, "layout.html", name)
			if err != nil {
				return nil, err
			}
			out[Name(lang, name)] = t
			if lang == language.English {
				out[name] = t
			}
		}
	}
	return out, nil
}
