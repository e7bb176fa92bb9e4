// Package qrweb serves what a QR code leads to on the public listener (DESIGN §1a,
// §3b):
//
//	GET /qr/{qr_id}.png   the QR image (PNG); ?format=svg answers the SVG instead
//	GET /qr/{qr_id}.svg   the QR image (SVG)
//	GET /q/{qr_id}        the page a phone camera opens when it reads the QR
//
// The QR code's content is always {issuer}/q/{qr_id}, the verification_uri_complete
// of the session (RFC 8628 §3.3.1), so a phone with the qrid app reads the qr_id from
// it and a phone without the app lands on the /q/ page.
//
// # Images
//
// An image is served only while its session is live: pending or scanned, and not
// past ExpiresAt. Anything else — an unknown or malformed qr_id (a qr_id is 22
// characters of unpadded base64url), an expired session, a session already
// approved, denied or consumed — is a 404 with the JSON error of qrid's APIs
// ({"error":"not_found","message":...}). The optional size query parameter sets the
// width and height in pixels (128 to 1024, default 256); anything else is a 400.
// A live image may be cached privately until the session expires and no longer:
// Cache-Control: private, max-age=<whole seconds left> and Expires: <expires_at>.
//
// PNG images are drawn by github.com/skip2/go-qrcode at recovery level M. SVG
// images are one <path> of unit squares over a white background, quiet zone
// included, with shape-rendering="crispEdges"; they carry no script and are served
// with their own Content-Security-Policy of default-src 'none'.
//
// # The /q/ page and the app's URL scheme
//
// The qrid app claims the scheme qrid: and opens qrid://q/{qr_id} as "scan this
// code": it then calls POST /api/mobile/v1/qr/scan with the qr_id exactly as if the
// camera had read the QR. An app that also claims {issuer}/q/ as an iOS universal
// link or Android app link never shows this page; the page is for the phones where
// the plain camera opened the URL in a browser. It offers the qrid:// deep link and,
// for a phone without the app, the web approval page /device?qr={qr_id}.
//
// The page shows nothing about the session but whether it is live: no user code,
// no client, no requester — the qr_id is public and whoever holds the URL may
// have read it off someone else's screen. An unknown, malformed or no longer live
// qr_id gets the same page with "This sign-in code has expired or does not exist"
// and status 404. Pages are never cached and use no inline script or style, so
// they work under the provider's Content-Security-Policy (default-src 'self').
package qrweb
