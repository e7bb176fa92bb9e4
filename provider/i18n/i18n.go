package i18n

import (
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/text/language"
)

// Supported are the languages qrid speaks, the first being the default.
var Supported = []language.Tag{language.English, language.SimplifiedChinese}

var matcher = language.NewMatcher(Supported)

// maxAcceptLanguage bounds the header Match reads. Browsers send well under 200
// bytes; anything longer is not worth parsing.
const maxAcceptLanguage = 1 << 10

// catalogs holds the messages of each supported language by key.
var catalogs = map[language.Tag]map[string]string{
	language.English:           en,
	language.SimplifiedChinese: zhHans,
}

// Match returns the supported language that best fits an Accept-Language header
// value: language.English or language.SimplifiedChinese. It never fails.
func Match(acceptLanguage string) language.Tag {
	if acceptLanguage == "" || len(acceptLanguage) > maxAcceptLanguage {
		return language.English
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return language.English
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return language.English
	}
	return Supported[i]
}

// FromRequest returns the language for r's Accept-Language header fields (several
// fields are one comma-separated list, RFC 9110 §5.3).
func FromRequest(r *http.Request) language.Tag {
	return Match(strings.Join(r.Header.Values("Accept-Language"), ","))
}

// SetHeaders marks a response as written in lang and as varying with the request's
// Accept-Language header.
func SetHeaders(h http.Header, lang language.Tag) {
	h.Set("Content-Language", lang.String())
	h.Add("Vary", "Accept-Language")
}

// T returns the message key in lang, formatted with args as fmt.Sprintf does when
// there are any. A key missing in lang falls back to English; a key missing there
// too is returned as it is.
func T(lang language.Tag, key string, args ...any) string {
	msg, ok := catalogs[lang][key]
	if !ok {
		if msg, ok = en[key]; !ok {
			return key
		}
	}
	if len(args) == 0 {
		return msg
	}
	return fmt.Sprintf(msg, args...)
}
