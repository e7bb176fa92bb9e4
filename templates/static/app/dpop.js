// DPoP (RFC 9449) for the app: a non-extractable ECDSA P-256 key made with
// WebCrypto, kept in IndexedDB by app.js, signs a fresh proof for every call, so the
// device token is useless without the key that never leaves this browser.
// Everything here is pure but for WebCrypto, so the Node tests in web/ run it.

const enc = new TextEncoder();

/** b64url encodes bytes (an ArrayBuffer or a Uint8Array) as unpadded base64url. */
export function b64url(bytes) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * supported reports whether this browser can make DPoP keys: WebCrypto exists only
 * in secure contexts (https, or http on localhost).
 */
export function supported() {
  return Boolean(globalThis.crypto && globalThis.crypto.subtle);
}

/**
 * newKeyPair makes the key pair a sign-in binds its token to: ECDSA P-256 (ES256)
 * whose private key cannot be exported, not even by this app.
 */
export function newKeyPair() {
  return crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
}

/** tokenHash is the ath of a proof sent with token (RFC 9449 §4.2). */
export async function tokenHash(token) {
  return b64url(await crypto.subtle.digest("SHA-256", enc.encode(token)));
}

/**
 * htuOf is the htu of a call: the issuer followed by the API path, without query
 * or fragment (RFC 9449 §4.2).
 */
export function htuOf(issuer, path) {
  return issuer.replace(/\/+$/, "") + path.split(/[?#]/)[0];
}

/**
 * makeProof signs a proof for one call with keyPair: method and htu, ath when token
 * is given, a random jti and iat = now (seconds). The public key travels as the
 * jwk header, with only its public members.
 */
export async function makeProof({ keyPair, method, htu, token, now = Date.now() }) {
  const pub = await crypto.subtle.exportKey("jwk", keyPair.publicKey);
  const header = { typ: "dpop+jwt", alg: "ES256", jwk: { kty: pub.kty, crv: pub.crv, x: pub.x, y: pub.y } };
  const claims = { htm: method, htu, iat: Math.floor(now / 1000), jti: crypto.randomUUID() };
  if (token) claims.ath = await tokenHash(token);
  const input = b64url(enc.encode(JSON.stringify(header))) + "." + b64url(enc.encode(JSON.stringify(claims)));
  // WebCrypto's ECDSA signature is r || s, 64 bytes: the JWS form (RFC 7518 §3.4).
  const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keyPair.privateKey, enc.encode(input));
  return input + "." + b64url(sig);
}
