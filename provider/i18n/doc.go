// Package i18n is the catalog of the words qrid's pages show, in English and in
// Simplified Chinese, and the choice between them from a request's Accept-Language
// header (RFC 9110 §12.5.4).
//
// Decisions:
//   - Match never fails: an empty, malformed or oversized header, or one naming only
//     languages qrid does not speak, gets English. Traditional Chinese (zh-TW, zh-HK,
//     zh-Hant) gets Simplified Chinese, the matcher's closest answer, rather than
//     English.
//   - A message is found by key. A key the Chinese catalog lacks falls back to
//     English; a key no catalog has is shown as the key itself, so a mistake is
//     visible on the page but never breaks it. The tests keep both catalogs complete
//     and check every key the templates and the Go code use.
//   - Keys used from Go are the constants in keys.go, so the compiler checks them;
//     templates name keys as literals ({{t "login.heading"}}).
//   - Messages with arguments are fmt formats; arguments are escaped by html/template
//     where the result is shown, never by the catalog.
package i18n
