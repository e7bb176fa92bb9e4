// Package webapp serves qrid's mobile web app at /app: the first-party approving
// app for phones without a native one, and the reference for native apps (DESIGN
// §1, §3b, §4). It uses only the mobile API (/api/mobile/v1, described by
// provider/mobile/openapi.json), exactly as a native app would.
//
//	GET /app    the app shell (templates/static/app/index.html), in English or Chinese
//	GET /app/   a redirect to /app, keeping the query
//
// The shell is served with Cache-Control: no-cache and a strong ETag (one per
// language), so phones revalidate it on every start. Everything else is a plain
// file under templates/static/app/, embedded with the other static assets and
// served by the provider's /static/ route: app.js (the app, an ES2020 module, no
// framework and no build step), logic.js (its pure logic, also imported by the
// Node tests in web/), messages.js (the app's words), app.css,
// manifest.webmanifest, the icons, and vendor/jsQR.js.
//
// # Languages
//
// The app speaks the languages of provider/i18n, English and Simplified Chinese,
// chosen from the request's Accept-Language by i18n.FromRequest, as the server's
// pages are; its Chinese wording follows theirs. The work is split in two:
//
//   - The shell is an html/template (index.html names its texts {{.T.key}}),
//     rendered once per language when the route is mounted, from the small map
//     shellText (shell_text.go). /app answers the page of the request's language,
//     with <html lang="en"> or <html lang="zh-Hans">, Content-Language and Vary:
//     Accept-Language (i18n.SetHeaders). Rendering on the server, rather than
//     filling the texts from script, means no English flashes before the app
//     starts and the noscript text is translated too. A text the shell names but
//     a language lacks fails the rendering (missingkey=error): /app then answers
//     500 and logs, and the tests catch it first. The file itself, also reachable
//     as /static/app/index.html, is the unrendered template.
//   - Everything app.js shows while it runs (view titles it sets, buttons of the
//     device list, status and error sentences, scope wording, "5 minutes ago",
//     the countdown, the match prompt) comes from messages.js, whose catalogs en
//     and zh-Hans have the same keys. The app picks one by <html lang>, so the
//     server's choice holds for both halves. The logic.js helpers that return
//     words take the catalog's translator as their last argument (English when
//     left out).
//
// The mobile API answers in English. For the error codes the app knows
// (already_scanned, expired, wrong_match, already_used, invalid_credentials,
// rate_limited, not_found, unauthorized) it shows its own sentence in the page's
// language; for any other code, the server's message as sent. The device_name
// sent at sign-in ("Chrome on Android") stays English: it is data kept by the
// server and shown on every device. The manifest's name and description are
// English (one file for all languages).
//
// # The app
//
// Views: sign in; scan (camera, a photo, or a typed user code); confirm (the
// client's name, logo and the host of its client_uri, the scopes in plain words,
// the requester's device, IP address and time, a countdown of the confirm
// token's expires_in, and either Approve or, with number matching, the three
// numbers "shown on the screen"; and Deny); the outcome; the account's devices
// (revoke others, sign this phone out). Every API error is shown as a sentence
// (see Languages), except the outcomes that end a sign-in (already_scanned,
// wrong_match, expired, already_used, ...), which get their own screen; a 401
// forgets the sign-in and returns to the sign-in view. Status changes are
// announced in the aria-live region #status, and each view change moves focus to
// the view's heading. The page works under the provider's Content-Security-Policy:
// no inline script or style, no handlers in markup, no blob: or external URLs but
// a client's https logo (img-src allows https:); a logo over plain http is not
// shown.
//
// Stable element IDs for browser tests: #username, #password, #sign-in,
// #user-code, #submit-code, #start-camera, #photo, #approve, #deny,
// .match-choice (three buttons), #status, #result-title, #device-list,
// #sign-out, #nav-scan, #nav-devices; each view is a section #view-{signin,
// scan, confirm, result, devices} with the hidden attribute when not shown.
//
// # Signing in and the device token
//
// POST /login is sent with device_type "web", a device_id made once with
// crypto.randomUUID(), and a device_name such as "Chrome on Android" read from
// the user agent. The token, the device_id and qrid's ID of the sign-in are kept
// in localStorage, so the phone stays an approver across restarts, as a native
// app does. The trade-off: any script that runs on this origin can read
// localStorage, and the device_id binding does not help there (it sits next to
// the token), so a cross-site-scripting hole anywhere on the issuer's origin
// would leak the token. What limits that: the provider's CSP allows scripts from
// 'self' only and no inline script; the app loads no third-party code (jsQR is
// vendored); the token is revocable at once from any device's list; and signing
// out deletes everything the app stored, the device_id included. Above all the
// token is DPoP-bound (RFC 9449, dpop.js): each sign-in makes a fresh ECDSA P-256
// key pair with WebCrypto whose private key is not extractable, keeps the
// CryptoKeyPair in IndexedDB (database "qrid", store "keys"; in memory only where
// IndexedDB fails, so a restart then asks to sign in again), sends a proof with
// POST /login and, once the answer says token_type "DPoP", sends every call as
// Authorization: DPoP with a fresh proof (htu is the issuer from the discovery
// document, else the page's origin, followed by the API path). A script that
// reads the token cannot use it elsewhere: it has no way to get the key out. It
// could still make proofs while it runs in the page, which only the CSP prevents.
// Where WebCrypto is missing (http other than localhost) the app signs in with a
// plain bearer token as before. Signing out or a 401 deletes the key.
//
// # Scanning
//
// The camera is opened with getUserMedia({video: {facingMode: "environment"}})
// when the person presses Start camera, or by itself when the camera permission
// is already granted; it stops when the view changes or the page is hidden.
// Frames (and photos from the file input, read with createImageBitmap) are decoded
// with the browser's BarcodeDetector when it supports qr_code, and with the
// bundled jsQR otherwise (a photo also falls back to jsQR when BarcodeDetector
// finds nothing). Only texts that look like a qrid code — an http(s) URL whose
// path ends in /q/{qr_id}, qrid://q/{qr_id}, or a bare qr_id — are sent to POST
// /qr/scan, so other QR codes in view cost no rate-limited scan; the server still
// decides whether a URL names this issuer. Typed user codes are normalised as
// the server does and refused before sending when they cannot be one.
//
// /app?qr={qr_id} and /app#qr={content} (for links from the /q/ page) scan that
// code at once, or right after sign-in (it waits in sessionStorage), and are
// taken out of the address so a reload does not scan again. Since a link can be
// sent by anyone, the confirm screen then warns that the person opened a link
// rather than scanned a code, and to approve only a sign-in they started
// themselves.
//
// # jsQR
//
// jsQR 1.4.0 (Apache-2.0; its LICENSE is copied next to it) is pinned in
// web/package.json and web/package-lock.json. web/build.sh runs npm ci (without
// package scripts), copies node_modules/jsqr/dist/jsQR.js and LICENSE into
// templates/static/app/vendor/, and redraws the icons (web/icons.mjs, Node's
// standard library only). The copies are committed, so go build needs no npm;
// rerun after changing the pin with
//
//	go generate ./provider/webapp
//
// jsQR's file is UMD, so the shell loads it as a classic deferred script before
// the module, and the app calls window.jsQR.
//
// # Installing
//
// The shell links manifest.webmanifest (start_url /app, scope /app, display
// standalone, an SVG icon and 192 and 512 pixel PNGs, also marked maskable).
// There is no service worker: the app cannot do anything offline, since every
// action is a call to qrid. Browsers that require one before offering to install
// still offer Add to Home Screen.
//
// # Tests
//
// go test checks the handler (the language choice and its headers included), the
// shell texts of both languages and the files the shell and the manifest name;
// node --test web/ tests logic.js in both languages, dpop.js's proofs (claims, a
// signature that verifies with the jwk, a key that cannot be exported), and that
// the two catalogs of messages.js have the same keys and placeholders and no empty
// message. go test runs the Node tests too when node is installed, and checks that
// a proof made by dpop.js passes the server's verifier (provider/dpop). The
// "mobile web app" flow of provider's TestBrowser (browser_app_test.go) runs the
// app in headless Chromium at phone size against a running qrid: sign-in, the
// DPoP binding seen from the server (the device's key thumbprint, the token
// refused without a proof, every proof's jti used once), a typed user code and a
// photo of a QR approved with number matching, a reload, and signing out.
package webapp

//go:generate sh ../../web/build.sh
