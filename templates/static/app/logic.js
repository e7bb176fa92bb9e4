// The app's pure logic: no DOM, no network, no storage, so that it runs under
// `node --test web/` as well as in the browser. app.js does the rest. Every
// function that returns words takes a translator m (messages.js) as its last
// argument, English when left out.
import { plural, translator } from "./messages.js";

const EN = translator("en");

/** The user-code alphabet (RFC 8628 §6.1 base-20: consonants only). */
export const USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ";

/** The length of a user code without its dash. */
export const USER_CODE_LENGTH = 8;

/**
 * normalizeUserCode returns the canonical form of a typed user code (upper case,
 * without dashes or spaces), or "" when it cannot be one. It follows the server's
 * rule (grants/qr.NormalizeUserCode), so the app can refuse a mistyped code before
 * spending one of the account's rate-limited scans on it.
 * @param {string} s
 * @returns {string}
 */
export function normalizeUserCode(s) {
  if (typeof s !== "string" || s.length > 32) return "";
  let out = "";
  for (const c of s.toUpperCase()) {
    if (c === "-" || c === " ") continue;
    if (!USER_CODE_ALPHABET.includes(c)) return "";
    out += c;
  }
  return out.length === USER_CODE_LENGTH ? out : "";
}

/**
 * formatUserCode writes a user code the way screens show it: "BCDF-GHJK". Input
 * that is not a user code is returned unchanged.
 * @param {string} s
 * @returns {string}
 */
export function formatUserCode(s) {
  const n = normalizeUserCode(s);
  return n ? n.slice(0, 4) + "-" + n.slice(4) : s;
}

// A qr_id is 16 random bytes in unpadded base64url: 22 characters.
const QR_ID = /^[A-Za-z0-9_-]{22}$/;

/**
 * qrContent decides whether a decoded QR text (or a ?qr= value) is a qrid sign-in
 * code, and returns what to send as `qr` to POST /qr/scan, or "" when it is not one:
 * an http(s) URL whose path ends in /q/{qr_id} (sent as it is, so the server checks
 * that it names this issuer), the app link qrid://q/{qr_id} or a bare qr_id (sent
 * as the bare qr_id). Anything else — a web page, a Wi-Fi code — is "", so the
 * scanner can keep looking without troubling the server.
 * @param {string} text
 * @returns {string}
 */
export function qrContent(text) {
  if (typeof text !== "string") return "";
  const s = text.trim();
  if (s.length === 0 || s.length > 2048) return "";
  if (QR_ID.test(s)) return s;
  let u;
  try {
    u = new URL(s);
  } catch {
    return "";
  }
  if (u.protocol === "qrid:") {
    // qrid://q/{id}: host "q", path "/{id}".
    const m = /^\/\/q\/([A-Za-z0-9_-]{22})$/.exec(s.slice("qrid:".length));
    return m ? m[1] : "";
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") return "";
  if (u.search || u.hash || u.username || u.password) return "";
  return /\/q\/[A-Za-z0-9_-]{22}$/.test(u.pathname) ? s : "";
}

/**
 * qrFromLocation reads the code the app was opened for, from /app?qr=… or
 * /app#qr=…, and returns it as qrContent does, or "".
 * @param {string} search location.search, e.g. "?qr=abc"
 * @param {string} hash location.hash, e.g. "#qr=abc"
 * @returns {string}
 */
export function qrFromLocation(search, hash) {
  for (const part of [search, hash]) {
    if (typeof part !== "string" || part.length < 2) continue;
    const v = new URLSearchParams(part.slice(1)).get("qr");
    if (v) {
      const c = qrContent(v);
      if (c) return c;
    }
  }
  return "";
}

/** The scopes with words of their own (messages "scope.{name}"). */
export const KNOWN_SCOPES = Object.freeze(["openid", "profile", "email", "offline_access"]);

/**
 * scopeText returns the plain words for one OAuth scope; a scope qrid has no words
 * for is shown by its name, so nothing asked for is hidden.
 * @param {string} scope
 * @param {(key: string, vars?: object) => string} [m] a translator
 * @returns {string}
 */
export function scopeText(scope, m = EN) {
  if (KNOWN_SCOPES.includes(scope)) return m(`scope.${scope}`);
  return m("scope.other", { scope });
}

/**
 * describeScopes turns the scan answer's scopes into the lines to show, in the
 * order asked, without duplicates or empty names.
 * @param {string[]} scopes
 * @param {(key: string, vars?: object) => string} [m] a translator
 * @returns {{scope: string, text: string}[]}
 */
export function describeScopes(scopes, m = EN) {
  const seen = new Set();
  const out = [];
  for (const s of Array.isArray(scopes) ? scopes : []) {
    if (typeof s !== "string" || s === "" || seen.has(s)) continue;
    seen.add(s);
    out.push({ scope: s, text: scopeText(s, m) });
  }
  return out;
}

/**
 * timeAgo says how long ago `then` was, relative to `now`: "just now",
 * "1 minute ago", "5 minutes ago", "2 hours ago", "3 days ago". A time in the
 * future (a clock ahead of the phone's) reads "just now". An invalid time is "".
 * @param {string|Date} then an RFC 3339 time or a Date
 * @param {Date|number} now
 * @param {(key: string, vars?: object) => string} [m] a translator
 * @returns {string}
 */
export function timeAgo(then, now, m = EN) {
  const t = then instanceof Date ? then.getTime() : Date.parse(then);
  const n = now instanceof Date ? now.getTime() : now;
  if (!Number.isFinite(t) || !Number.isFinite(n)) return "";
  const seconds = Math.floor((n - t) / 1000);
  if (seconds < 60) return m("time.just_now");
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return plural(m, "time.minutes", minutes);
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return plural(m, "time.hours", hours);
  return plural(m, "time.days", Math.floor(hours / 24));
}

/**
 * formatCountdown writes whole seconds left as m:ss ("1:05", "0:09"); negative
 * values read "0:00".
 * @param {number} seconds
 * @param {(key: string, vars?: object) => string} [m] a translator
 * @returns {string}
 */
export function formatCountdown(seconds, m = EN) {
  const s = Math.max(0, Math.floor(Number.isFinite(seconds) ? seconds : 0));
  return m("countdown", { m: Math.floor(s / 60), ss: String(s % 60).padStart(2, "0") });
}

/**
 * describeUserAgent names a browser and its system from a User-Agent string, e.g.
 * "Chrome on Android" or "Safari on iPhone": the device name sent at sign-in and
 * the requester shown before confirming. Unknown parts read "Browser" and
 * "unknown system" (in the translator's language; browser and system names are
 * not translated).
 * @param {string} ua
 * @param {(key: string, vars?: object) => string} [m] a translator
 * @returns {string}
 */
export function describeUserAgent(ua, m = EN) {
  const s = typeof ua === "string" ? ua : "";
  let browser = m("ua.browser");
  // Order matters: Edge and Opera say "Chrome", Chrome says "Safari".
  if (/\bEdg(e|A|iOS)?\//.test(s)) browser = "Edge";
  else if (/\b(OPR|Opera)\//.test(s)) browser = "Opera";
  else if (/\bSamsungBrowser\//.test(s)) browser = "Samsung Internet";
  else if (/\b(Firefox|FxiOS)\//.test(s)) browser = "Firefox";
  else if (/\b(Chrome|CriOS|Chromium|HeadlessChrome)\//.test(s)) browser = "Chrome";
  else if (/\bSafari\//.test(s) && /\bVersion\//.test(s)) browser = "Safari";
  else if (/^curl\//.test(s)) browser = "curl";

  let system = m("ua.system");
  if (/\bAndroid\b/.test(s)) system = "Android";
  else if (/\biPhone\b/.test(s)) system = "iPhone";
  else if (/\biPad\b/.test(s)) system = "iPad";
  else if (/\bCrOS\b/.test(s)) system = "ChromeOS";
  else if (/\bWindows\b/.test(s)) system = "Windows";
  else if (/\bMac OS X\b|\bMacintosh\b/.test(s)) system = "macOS";
  else if (/\bLinux\b/.test(s)) system = "Linux";
  return m("ua.describe", { browser, system });
}

/**
 * hostOf returns the host of an http(s) URL (what the confirmation screen shows of
 * the client's client_uri), or "" for anything else.
 * @param {string} uri
 * @returns {string}
 */
export function hostOf(uri) {
  try {
    const u = new URL(uri);
    return u.protocol === "https:" || u.protocol === "http:" ? u.host : "";
  } catch {
    return "";
  }
}

/**
 * logoAllowed reports whether a client's logo_uri may be shown: https, or this
 * origin. The page's Content-Security-Policy allows no other images, and a logo
 * over plain http could be swapped on the way.
 * @param {string} uri
 * @param {string} origin the app's origin, e.g. location.origin
 * @returns {boolean}
 */
export function logoAllowed(uri, origin) {
  try {
    const u = new URL(uri);
    return u.protocol === "https:" || u.origin === origin;
  } catch {
    return false;
  }
}

/**
 * The outcomes of a scan or a decision that end the sign-in on this phone: a
 * confirm status or an API error code, each with a title and a text in the
 * catalog ("outcome.{code}.title" and ".text"). Other errors are shown with
 * errorMessage.
 */
export const OUTCOMES = Object.freeze([
  "approved", "denied", "already_scanned", "wrong_match", "expired", "already_used", "invalid_token", "forbidden",
]);

/**
 * outcomeFor returns the end-of-sign-in screen for a confirm status or an API
 * error code, or null when the error is not an ending (the caller then shows
 * errorMessage and lets the person try again).
 * @param {string} code
 * @param {(key: string, vars?: object) => string} [m] a translator
 * @returns {{title: string, text: string} | null}
 */
export function outcomeFor(code, m = EN) {
  if (!OUTCOMES.includes(code)) return null;
  return { title: m(`outcome.${code}.title`), text: m(`outcome.${code}.text`) };
}

/**
 * The API error codes with a sentence of their own in the catalog
 * ("error.code.{code}"). The mobile API's messages are English, so for these the
 * app shows its own words; for any other code it shows the server's message.
 */
export const KNOWN_ERRORS = Object.freeze([
  "already_scanned", "expired", "wrong_match", "already_used", "invalid_credentials", "rate_limited", "not_found", "unauthorized",
]);

/**
 * errorMessage returns the sentence to show for a failed API call: the catalog's
 * sentence for a known error code, else the server's message when it sent one,
 * else a sentence for the HTTP status. A 429 with Retry-After says how long to
 * wait.
 * @param {number} status the HTTP status, 0 for a network failure
 * @param {{error?: string, message?: string} | null} body
 * @param {string|null} retryAfter the Retry-After header, if any
 * @param {(key: string, vars?: object) => string} [m] a translator
 * @returns {string}
 */
export function errorMessage(status, body, retryAfter, m = EN) {
  const code = body && typeof body.error === "string" ? body.error : "";
  let msg = "";
  if (KNOWN_ERRORS.includes(code)) msg = m(`error.code.${code}`);
  else if (body && typeof body.message === "string" && body.message) msg = body.message;
  else if (status === 0) msg = m("error.network");
  else if (status === 429) msg = m("error.too_many");
  else if (status >= 500) msg = m("error.server");
  else msg = m("error.http", { status });
  const wait = Number.parseInt(retryAfter ?? "", 10);
  if (status === 429 && Number.isFinite(wait) && wait > 0) {
    msg += (/[.!?]$/.test(msg) ? " " : "") + plural(m, "error.retry", wait);
  }
  return msg;
}
