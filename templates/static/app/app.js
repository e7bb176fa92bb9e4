// qrid's web app at /app: sign in on this phone, scan a QR code (or type a user
// code) shown on another screen, and approve or deny that sign-in. It speaks only
// the mobile API (/api/mobile/v1, described by its openapi.json) and is the
// reference for native apps. See provider/webapp/doc.go for the decisions.
import {
  describeScopes, describeUserAgent, errorMessage, formatCountdown, formatUserCode,
  hostOf, logoAllowed, normalizeUserCode, outcomeFor, qrContent, qrFromLocation, timeAgo,
} from "./logic.js";
import { plural, translator } from "./messages.js";
import { htuOf, makeProof, newKeyPair, supported as dpopSupported } from "./dpop.js";

// The page's language, set by the server from Accept-Language; every word the app
// shows comes from messages.js through m.
const m = translator(document.documentElement.lang);

const API = "/api/mobile/v1";
const KEY = { deviceID: "qrid.device_id", token: "qrid.token", signIn: "qrid.sign_in_id", tokenType: "qrid.token_type" };
const PENDING = "qrid.pending_qr"; // sessionStorage: a code to scan after sign-in

const $ = (id) => document.getElementById(id);

// ---- storage -------------------------------------------------------------

const store = {
  get: (k) => { try { return localStorage.getItem(k); } catch { return null; } },
  set: (k, v) => { try { localStorage.setItem(k, v); } catch { /* private mode */ } },
  del: (k) => { try { localStorage.removeItem(k); } catch { /* private mode */ } },
};

/** deviceID returns this browser's device_id, made once and kept. */
function deviceID() {
  let id = store.get(KEY.deviceID);
  if (!id) {
    id = crypto.randomUUID();
    store.set(KEY.deviceID, id);
  }
  return id;
}

const signedIn = () => Boolean(store.get(KEY.token));

function forgetSignIn() {
  store.del(KEY.token);
  store.del(KEY.signIn);
  store.del(KEY.tokenType);
  forgetDPoPKey();
}

// ---- DPoP key -------------------------------------------------------------
//
// A sign-in binds the token to a fresh non-extractable ECDSA P-256 key (dpop.js).
// The key pair is kept in IndexedDB (CryptoKeys survive there without ever being
// exported) and in memory; where IndexedDB fails (some private modes) it lives
// until the page is closed, and the next start asks to sign in again.

const DB = { name: "qrid", store: "keys", key: "dpop" };
let dpopKey = null; // the CryptoKeyPair of the current sign-in, once loaded

/** keyStore runs fn on the key store in one transaction and resolves its result. */
function keyStore(mode, fn) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB.name, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(DB.store);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction(DB.store, mode);
      const req = fn(tx.objectStore(DB.store));
      tx.oncomplete = () => { db.close(); resolve(req.result); };
      tx.onerror = tx.onabort = () => { db.close(); reject(tx.error); };
    };
  });
}

async function loadDPoPKey() {
  if (!dpopKey) {
    try { dpopKey = (await keyStore("readonly", (s) => s.get(DB.key))) ?? null; } catch { dpopKey = null; }
  }
  return dpopKey;
}

async function saveDPoPKey(keyPair) {
  dpopKey = keyPair;
  try { await keyStore("readwrite", (s) => s.put(keyPair, DB.key)); } catch { /* kept in memory only */ }
}

function forgetDPoPKey() {
  dpopKey = null;
  keyStore("readwrite", (s) => s.delete(DB.key)).catch(() => { /* nothing kept */ });
}

let issuerURL = null;

/**
 * issuer is qrid's issuer URL, which proofs name (htu): from the discovery
 * document, else this page's origin.
 */
async function issuer() {
  if (!issuerURL) {
    try {
      const res = await fetch("/.well-known/openid-configuration", { cache: "no-store", credentials: "omit" });
      const doc = res.ok ? await res.json() : null;
      if (doc && typeof doc.issuer === "string") issuerURL = doc.issuer;
    } catch { /* the origin then */ }
  }
  return issuerURL ?? location.origin;
}

// ---- API -----------------------------------------------------------------

class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * call sends one request to the mobile API and returns the decoded answer (null
 * for 204). Failures throw APIError with the server's code and message; a 401 on
 * an authenticated call also forgets the sign-in and returns to the sign-in view.
 */
async function call(method, path, body, { keyPair = null } = {}) {
  const headers = { Accept: "application/json" };
  const authed = path !== "/login";
  const token = store.get(KEY.token) ?? "";
  if (authed) {
    // A DPoP-bound token goes as DPoP with a fresh proof for this very call.
    const bound = store.get(KEY.tokenType) === "DPoP";
    if (bound) keyPair = await loadDPoPKey();
    headers.Authorization = `${bound ? "DPoP" : "Bearer"} ${token}`;
    headers["X-Device-Id"] = deviceID();
  }
  if (keyPair) {
    try {
      headers.DPoP = await makeProof({
        keyPair, method, htu: htuOf(await issuer(), API + path), token: authed ? token : undefined,
      });
    } catch (err) {
      console.error(err);
    }
  }
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(API + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit", redirect: "error",
    });
  } catch {
    throw new APIError(0, "network", errorMessage(0, null, null, m));
  }
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch { data = null; }
  if (res.ok) return data;
  const code = data && typeof data.error === "string" ? data.error : "http_" + res.status;
  const err = new APIError(res.status, code, errorMessage(res.status, data, res.headers.get("Retry-After"), m));
  if (res.status === 401 && authed) {
    forgetSignIn();
    show("signin");
    say(m("session.ended"), true);
    err.handled = true;
  }
  throw err;
}

// ---- status and views ----------------------------------------------------

/** say puts a sentence in the live #status region (errors in red). */
function say(text, isError = false) {
  const s = $("status");
  s.textContent = text ?? "";
  s.classList.toggle("error", Boolean(isError) && Boolean(text));
}

/** fail reports a failed call, unless call() already handled it (401). */
function fail(err) {
  if (err && err.handled) return;
  say(err instanceof APIError ? err.message : m("error.generic"), true);
  if (!(err instanceof APIError)) console.error(err);
}

const VIEWS = ["signin", "scan", "confirm", "result", "devices"];
let current = "";

/**
 * show switches to one view, moves focus to its heading (so screen readers read
 * where they are) and stops what the view left behind (camera, countdown).
 */
function show(name, { keepStatus = false } = {}) {
  if (current === "scan" && name !== "scan") stopCamera();
  if (current === "confirm" && name !== "confirm") stopCountdown();
  current = name;
  $("loading").hidden = true;
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== name;
  $("nav").hidden = name === "signin";
  for (const [nav, view] of [["nav-scan", "scan"], ["nav-devices", "devices"]]) {
    if (name === view) $(nav).setAttribute("aria-current", "page");
    else $(nav).removeAttribute("aria-current");
  }
  if (!keepStatus) say("");
  const heading = document.querySelector(`#view-${name} h1`);
  if (heading) heading.focus();
  if (name === "scan") autoStartCamera();
}

/** busy disables buttons while a request runs, so nothing is sent twice. */
async function busy(buttons, fn) {
  for (const b of buttons) b.disabled = true;
  try {
    return await fn();
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

// ---- sign in -------------------------------------------------------------

async function signIn(ev) {
  ev.preventDefault();
  const username = $("username").value.trim();
  const password = $("password").value;
  if (!username || !password) {
    say(m("signin.missing"), true);
    (username ? $("password") : $("username")).focus();
    return;
  }
  say(m("signin.busy"));
  try {
    const res = await busy([$("sign-in")], async () => {
      // A fresh key for this sign-in; without WebCrypto the token is a bearer token.
      let keyPair = null;
      if (dpopSupported()) {
        try { keyPair = await newKeyPair(); } catch { keyPair = null; }
      }
      const res = await call("POST", "/login", {
        username, password, device_id: deviceID(), device_type: "web",
        device_name: describeUserAgent(navigator.userAgent).slice(0, 100),
      }, { keyPair });
      const bound = res.token_type === "DPoP" && keyPair !== null;
      if (bound) await saveDPoPKey(keyPair);
      else forgetDPoPKey();
      store.set(KEY.tokenType, bound ? "DPoP" : "Bearer");
      return res;
    });
    store.set(KEY.token, res.token);
    store.set(KEY.signIn, res.id);
    $("password").value = "";
    afterSignIn();
  } catch (err) {
    fail(err);
    $("password").focus();
  }
}

/** afterSignIn scans the code the app was opened for, if any, else shows Scan. */
function afterSignIn() {
  let code = null;
  try {
    code = sessionStorage.getItem(PENDING);
    sessionStorage.removeItem(PENDING);
  } catch { /* no session storage */ }
  show("scan");
  if (code) scan({ qr: code }, { fromLink: true });
}

// ---- scanning --------------------------------------------------------------

let scanning = false; // a /qr/scan request is in flight

/**
 * scan posts a QR content or a user code to /qr/scan and shows the confirmation
 * screen, or the outcome when the code cannot be used any more.
 */
async function scan(body, { fromLink = false } = {}) {
  if (scanning) return;
  scanning = true;
  stopCamera();
  say(m("scan.checking"));
  try {
    const res = await busy([$("submit-code")], () => call("POST", "/qr/scan", body));
    showConfirm(res, fromLink);
  } catch (err) {
    const outcome = err instanceof APIError ? outcomeFor(err.code, m) : null;
    if (outcome) showOutcome(outcome);
    else fail(err);
  } finally {
    scanning = false;
  }
}

function submitCode(ev) {
  ev.preventDefault();
  const code = normalizeUserCode($("user-code").value);
  if (!code) {
    say(m("scan.bad_user_code"), true);
    $("user-code").focus();
    return;
  }
  $("user-code").value = formatUserCode(code);
  scan({ user_code: code });
}

/** onDecoded handles text read from a QR code by the camera or a photo. */
function onDecoded(text) {
  const qr = qrContent(text);
  if (!qr) {
    say(m("scan.not_qrid"), true);
    return false;
  }
  scan({ qr });
  return true;
}

// ---- decoders ----------------------------------------------------------------

let detector; // BarcodeDetector, null when unavailable, undefined before checking

/** barcodeDetector returns a QR BarcodeDetector when the browser has one. */
async function barcodeDetector() {
  if (detector !== undefined) return detector;
  detector = null;
  if ("BarcodeDetector" in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    } catch { /* fall back to jsQR */ }
  }
  return detector;
}

const canvas = document.createElement("canvas");
const ctx = canvas.getContext("2d", { willReadFrequently: true });

/**
 * decode reads a QR code from a video frame or an image, with BarcodeDetector
 * when the browser has one and with the bundled jsQR otherwise. Large sources are
 * scaled down first: jsQR's time grows with the pixel count. Returns the text or "".
 */
async function decode(source, width, height, { thorough = false } = {}) {
  const d = await barcodeDetector();
  if (d) {
    try {
      const codes = await d.detect(source);
      if (codes.length > 0) return codes[0].rawValue;
      if (!thorough) return "";
    } catch { /* try jsQR */ }
  }
  if (typeof window.jsQR !== "function" || !width || !height) return "";
  const max = thorough ? 1600 : 800;
  const scale = Math.min(1, max / Math.max(width, height));
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
  const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const found = window.jsQR(img.data, img.width, img.height, {
    inversionAttempts: thorough ? "attemptBoth" : "dontInvert",
  });
  return found ? found.data : "";
}

// ---- camera ------------------------------------------------------------------

let stream = null;
let timer = 0;
let lastRejected = ""; // a non-qrid QR text already reported, not repeated

async function startCamera() {
  if (stream) return;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    say(m("camera.unsupported"), true);
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  } catch (err) {
    stream = null;
    say(err && err.name === "NotAllowedError"
      ? m("camera.denied")
      : m("camera.failed"), true);
    return;
  }
  if (current !== "scan") { stopCamera(); return; }
  const video = $("camera");
  video.srcObject = stream;
  video.hidden = false;
  $("start-camera").hidden = true;
  $("stop-camera").hidden = false;
  try { await video.play(); } catch { /* autoplay of a muted stream is allowed */ }
  say(m("camera.on"));
  lastRejected = "";
  tick();
}

function tick() {
  timer = window.setTimeout(async () => {
    const video = $("camera");
    if (!stream || scanning) return;
    if (video.readyState >= 2) {
      let text = "";
      try {
        text = await decode(video, video.videoWidth, video.videoHeight);
      } catch { text = ""; }
      if (!stream) return;
      if (text && text !== lastRejected) {
        if (onDecoded(text)) return; // scan() stops the camera
        lastRejected = text;
      }
    }
    tick();
  }, 200);
}

function stopCamera() {
  window.clearTimeout(timer);
  if (stream) {
    for (const t of stream.getTracks()) t.stop();
    stream = null;
  }
  const video = $("camera");
  video.srcObject = null;
  video.hidden = true;
  $("start-camera").hidden = false;
  $("stop-camera").hidden = true;
}

/** autoStartCamera starts the camera by itself only when it is already allowed. */
async function autoStartCamera() {
  try {
    const p = await navigator.permissions.query({ name: "camera" });
    if (p.state === "granted" && current === "scan") startCamera();
  } catch { /* no Permissions API for the camera: wait for the button */ }
}

async function decodePhoto() {
  const input = $("photo");
  const file = input.files && input.files[0];
  input.value = "";
  if (!file) return;
  say(m("photo.reading"));
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    say(m("photo.unreadable"), true);
    return;
  }
  let text = "";
  try {
    text = await decode(bitmap, bitmap.width, bitmap.height, { thorough: true });
  } catch { text = ""; }
  bitmap.close();
  if (!text) {
    say(m("photo.no_code"), true);
    return;
  }
  onDecoded(text);
}

// ---- confirm -----------------------------------------------------------------

let pending = null; // {token, deadline, requestedAt, hasMatch}
let countdown = 0;

function showConfirm(res, fromLink) {
  const client = res.client || {};
  $("client-name").textContent = client.name || client.client_id || m("confirm.unnamed_client");
  $("client-host").textContent = hostOf(client.client_uri || "");
  $("client-first-party").hidden = !client.first_party;
  const logo = $("client-logo");
  if (client.logo_uri && logoAllowed(client.logo_uri, location.origin)) {
    logo.src = client.logo_uri;
    logo.hidden = false;
  } else {
    logo.removeAttribute("src");
    logo.hidden = true;
  }
  $("link-warning").hidden = !fromLink;

  const list = $("scopes");
  list.replaceChildren();
  for (const s of describeScopes(res.scopes, m)) {
    const li = document.createElement("li");
    li.textContent = s.text;
    li.dataset.scope = s.scope;
    list.append(li);
  }
  if (!list.children.length) {
    const li = document.createElement("li");
    li.textContent = m("confirm.no_scopes");
    list.append(li);
  }

  const req = res.requester || {};
  $("req-device").textContent = describeUserAgent(req.user_agent || "", m);
  $("req-ua").textContent = req.user_agent || m("confirm.ua_not_sent");
  $("req-ip").textContent = req.ip || m("confirm.unknown");
  let warning = document.getElementById("req-network-warning");
  if (!warning) {
    warning = document.createElement("p");
    warning.id = "req-network-warning";
    warning.className = "warning";
    warning.setAttribute("role", "alert");
    $("req-ip").closest("dl, div, section").after(warning);
  }
  warning.textContent = m("confirm.other_network");
  warning.hidden = req.same_network !== false;

  const choices = Array.isArray(res.match_choices) ? res.match_choices : [];
  const hasMatch = choices.length > 0;
  $("match").hidden = !hasMatch;
  $("approve").hidden = hasMatch;
  document.querySelectorAll(".match-choice").forEach((b, i) => {
    b.textContent = choices[i] ?? "";
    b.value = choices[i] ?? "";
    b.hidden = !choices[i];
  });

  pending = {
    token: res.confirm_token,
    deadline: Date.now() + Math.max(0, Number(res.expires_in) || 0) * 1000,
    requestedAt: req.created_at,
    hasMatch,
  };
  show("confirm");
  say(m(hasMatch ? "confirm.prompt_match" : "confirm.prompt"));
  startCountdown();
}

function startCountdown() {
  stopCountdown();
  let warned = false;
  const step = () => {
    if (!pending) return;
    const left = Math.ceil((pending.deadline - Date.now()) / 1000);
    $("countdown").textContent = formatCountdown(left, m);
    $("req-time").textContent = timeAgo(pending.requestedAt, Date.now(), m) || m("confirm.unknown");
    if (left <= 10 && left > 0 && !warned) {
      warned = true;
      say(plural(m, "confirm.seconds_left", left));
    }
    if (left <= 0) {
      pending = null;
      showOutcome(outcomeFor("expired", m));
    }
  };
  step();
  countdown = window.setInterval(step, 1000);
}

function stopCountdown() {
  window.clearInterval(countdown);
  countdown = 0;
}

async function decide(approve, match) {
  if (!pending) return;
  const body = { confirm_token: pending.token, approve };
  if (approve && match) body.match = match;
  const buttons = [$("approve"), $("deny"), ...document.querySelectorAll(".match-choice")];
  say(m(approve ? "confirm.approving" : "confirm.denying"));
  try {
    const res = await busy(buttons, () => call("POST", "/qr/confirm", body));
    pending = null;
    showOutcome(outcomeFor(res && res.status, m) || { title: m("outcome.done.title"), text: m("outcome.done.text") });
  } catch (err) {
    if (err && err.handled) return;
    const outcome = err instanceof APIError ? outcomeFor(err.code, m) : null;
    if (outcome) {
      pending = null;
      showOutcome(outcome);
    } else {
      fail(err);
    }
  }
}

function showOutcome(outcome) {
  stopCountdown();
  $("result-title").textContent = outcome.title;
  $("result-text").textContent = outcome.text;
  show("result");
  say(m("outcome.announce", outcome));
}

// ---- devices -------------------------------------------------------------------

async function showDevices() {
  show("devices");
  const list = $("device-list");
  list.replaceChildren();
  say(m("devices.loading"));
  let res;
  try {
    res = await call("GET", "/devices");
  } catch (err) {
    fail(err);
    return;
  }
  const devices = (res && res.devices) || [];
  for (const d of devices) {
    const li = document.createElement("li");
    const info = document.createElement("div");
    const name = document.createElement("p");
    name.className = "name";
    name.textContent = d.name || d.device_type || m("devices.unnamed");
    const meta = document.createElement("p");
    meta.className = "meta";
    const when = { type: d.device_type, created: timeAgo(d.created_at, Date.now(), m) };
    meta.textContent = d.last_seen_at
      ? m("devices.meta_seen", { ...when, seen: timeAgo(d.last_seen_at, Date.now(), m) })
      : m("devices.meta", when);
    info.append(name, meta);
    li.append(info);
    li.dataset.id = d.id;
    if (d.current) {
      li.classList.add("current-device");
      const mark = document.createElement("span");
      mark.className = "current";
      mark.textContent = m("devices.this_phone");
      li.append(mark);
    } else {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary revoke";
      b.textContent = m("devices.sign_out");
      b.setAttribute("aria-label", m("devices.sign_out_label", { name: name.textContent }));
      b.addEventListener("click", () => revoke(d, li, b));
      li.append(b);
    }
    list.append(li);
  }
  say(plural(m, "devices.count", devices.length));
}

async function revoke(d, li, button) {
  try {
    await busy([button], () => call("DELETE", `/devices/${encodeURIComponent(d.id)}`));
  } catch (err) {
    fail(err);
    return;
  }
  li.remove();
  say(d.name ? m("devices.revoked", { name: d.name }) : m("devices.revoked_unnamed"));
  $("devices-title").focus();
}

async function signOut() {
  let told = true;
  try {
    await busy([$("sign-out")], () => call("POST", "/logout"));
  } catch (err) {
    if (err && err.handled) { localStorage.clear(); return; }
    told = false;
  }
  // Forget everything this app kept, the device_id and the DPoP key included: the
  // next sign-in is a new device.
  forgetDPoPKey();
  try { localStorage.clear(); sessionStorage.clear(); } catch { /* nothing kept */ }
  show("signin");
  say(m(told ? "signout.done" : "signout.untold"), !told);
}

// ---- start -----------------------------------------------------------------------

function start() {
  // A code the app was opened for (/app?qr=… or /app#qr=…) is scanned after
  // sign-in; it is taken out of the address so a reload does not scan it again.
  const fromURL = qrFromLocation(location.search, location.hash);
  if (location.search || location.hash) history.replaceState(null, "", location.pathname);

  $("signin-form").addEventListener("submit", signIn);
  $("code-form").addEventListener("submit", submitCode);
  $("start-camera").addEventListener("click", startCamera);
  $("stop-camera").addEventListener("click", () => { stopCamera(); say(m("camera.off")); });
  $("photo").addEventListener("change", decodePhoto);
  $("approve").addEventListener("click", () => decide(true));
  $("deny").addEventListener("click", () => decide(false));
  document.querySelectorAll(".match-choice").forEach((b) => {
    b.addEventListener("click", () => decide(true, b.value));
  });
  $("scan-again").addEventListener("click", () => show("scan"));
  $("nav-scan").addEventListener("click", () => show("scan"));
  $("nav-devices").addEventListener("click", showDevices);
  $("sign-out").addEventListener("click", signOut);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) stopCamera();
  });

  if (signedIn()) {
    show("scan");
    if (fromURL) scan({ qr: fromURL }, { fromLink: true });
    return;
  }
  if (fromURL) {
    try { sessionStorage.setItem(PENDING, fromURL); } catch { /* scanned by hand then */ }
  }
  show("signin");
  if (fromURL) say(m("start.pending"));
}

start();
