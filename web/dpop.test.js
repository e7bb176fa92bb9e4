// Tests of the app's DPoP proofs (templates/static/app/dpop.js): node --test web/
import test from "node:test";
import assert from "node:assert/strict";
import { b64url, htuOf, makeProof, newKeyPair, tokenHash } from "../templates/static/app/dpop.js";

const decode = (part) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));

test("b64url is unpadded base64url", () => {
  assert.equal(b64url(new Uint8Array([0xfb, 0xff])), "-_8");
  assert.equal(b64url(new Uint8Array([])), "");
});

test("tokenHash is the RFC 9449 ath", async () => {
  // RFC 9449 §7.1's example token and its ath.
  assert.equal(await tokenHash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"), "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
});

test("htuOf drops the query and a trailing slash of the issuer", () => {
  assert.equal(htuOf("https://id.example.com/", "/api/mobile/v1/devices?x=1#y"), "https://id.example.com/api/mobile/v1/devices");
});

test("the key is non-extractable and a proof verifies with its own jwk", async () => {
  const keyPair = await newKeyPair();
  assert.equal(keyPair.privateKey.extractable, false);
  await assert.rejects(crypto.subtle.exportKey("jwk", keyPair.privateKey));

  const now = Date.UTC(2030, 0, 2, 3, 4, 5);
  const proof = await makeProof({ keyPair, method: "POST", htu: "https://id.example.com/api/mobile/v1/qr/scan", token: "tok", now });
  const [h, c, s] = proof.split(".");
  const header = decode(h);
  const claims = decode(c);
  assert.deepEqual(Object.keys(header.jwk).sort(), ["crv", "kty", "x", "y"]);
  assert.equal(header.typ, "dpop+jwt");
  assert.equal(header.alg, "ES256");
  assert.equal(claims.htm, "POST");
  assert.equal(claims.htu, "https://id.example.com/api/mobile/v1/qr/scan");
  assert.equal(claims.iat, now / 1000);
  assert.equal(claims.ath, await tokenHash("tok"));
  assert.ok(claims.jti.length >= 16);

  const pub = await crypto.subtle.importKey("jwk", header.jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, pub, Buffer.from(s, "base64url"),
    new TextEncoder().encode(h + "." + c));
  assert.ok(ok, "the signature does not verify");

  const login = await makeProof({ keyPair, method: "POST", htu: "https://id.example.com/api/mobile/v1/login" });
  const loginClaims = decode(login.split(".")[1]);
  assert.equal(loginClaims.ath, undefined);
  assert.notEqual(loginClaims.jti, claims.jti);
});
