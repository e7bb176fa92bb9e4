// Package demo serves GET /demo, the page that `qrid serve --dev` points newcomers
// to. It explains the two ways to try qrid's QR sign-in with the seeded demo data:
//
//   - a website: the command that runs the demo relying party
//     (examples/relying-party) and a link to it, plus a direct link into qrid's
//     authorization endpoint for the demo client;
//   - a terminal: `qrid login` with the demo terminal client and the reference
//     phone commands (`qrid phone ...`).
//
// Either sign-in is approved with the mobile web app at /app, on a phone or in a
// second browser tab.
//
// The direct link is a complete authorization code request with PKCE
// (RFC 7636 §4.1–4.2: S256 challenge of a fresh 256-bit verifier) and a fresh state,
// generated per request. The verifier is thrown away: it is only a way into the
// login page, and the code lands on the demo relying party's callback, which refuses
// a state it did not issue. The page never shows the demo client's secret; the
// command line asks for the one `qrid serve --dev` printed.
//
// The page is rendered from templates/demo.html with the shared layout, carries no
// inline script or style (the provider's Content-Security-Policy is
// default-src 'self'), and is never cached, since each load carries a new state.
package demo
