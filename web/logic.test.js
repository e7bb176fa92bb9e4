// Tests of the app's pure logic (templates/static/app/logic.js): node --test web/
import test from "node:test";
import assert from "node:assert/strict";
import {
  describeScopes, describeUserAgent, errorMessage, formatCountdown, formatUserCode,
  hostOf, logoAllowed, normalizeUserCode, outcomeFor, qrContent, qrFromLocation,
  KNOWN_ERRORS, OUTCOMES, scopeText, timeAgo,
} from "../templates/static/app/logic.js";
import { MESSAGES, pickLang, plural, translator } from "../templates/static/app/messages.js";

const ZH = translator("zh-Hans");

const ID = "AAAAAAAAAAAAAAAAAAAAAA"; // a qr_id: 22 characters of base64url
const ID2 = "BBBBBBBBBBBBBBBBBBBB-_";

test("normalizeUserCode follows the server's rule", () => {
  const cases = [
    ["BCDF-GHJK", "BCDFGHJK"],
    ["bcdf ghjk", "BCDFGHJK"],
    ["  bcdfghjk ", "BCDFGHJK"],
    ["B-C-D-F-G-H-J-K", "BCDFGHJK"],
    ["BCDF-GHJ", ""], // too short
    ["BCDF-GHJKL", ""], // too long
    ["ABCD-EFGH", ""], // vowels are not in the alphabet
    ["BCDF-GHJ1", ""],
    ["BCDF_GHJK", ""],
    ["", ""],
    ["B".repeat(8) + " ".repeat(25), ""], // over 32 characters
    [undefined, ""],
  ];
  for (const [input, want] of cases) assert.equal(normalizeUserCode(input), want, JSON.stringify(input));
});

test("formatUserCode", () => {
  assert.equal(formatUserCode("bcdfghjk"), "BCDF-GHJK");
  assert.equal(formatUserCode("nope"), "nope");
});

test("qrContent accepts qrid codes only", () => {
  const cases = [
    [`https://id.example/q/${ID}`, `https://id.example/q/${ID}`],
    [`  https://id.example/q/${ID}\n`, `https://id.example/q/${ID}`],
    [`http://localhost:8080/q/${ID2}`, `http://localhost:8080/q/${ID2}`],
    [`https://id.example/prefix/q/${ID}`, `https://id.example/prefix/q/${ID}`],
    [ID, ID],
    [`qrid://q/${ID}`, ID],
    [`https://id.example/q/${ID}/extra`, ""],
    [`https://id.example/q/${ID}?x=1`, ""],
    [`https://id.example/q/${ID}#x`, ""],
    [`https://user:pw@id.example/q/${ID}`, ""],
    [`https://id.example/q/short`, ""],
    [`ftp://id.example/q/${ID}`, ""],
    [`javascript:alert(1)//q/${ID}`, ""],
    [`qrid://q/${ID}/x`, ""],
    ["WIFI:S:home;T:WPA;P:secret;;", ""],
    ["https://example.com/", ""],
    ["!".repeat(22), ""],
    ["", ""],
    [`https://id.example/q/${ID}` + "x".repeat(2048), ""],
    [null, ""],
  ];
  for (const [input, want] of cases) assert.equal(qrContent(input), want, JSON.stringify(input));
});

test("qrFromLocation reads ?qr= and #qr=", () => {
  assert.equal(qrFromLocation(`?qr=${ID}`, ""), ID);
  assert.equal(qrFromLocation("", `#qr=${ID}`), ID);
  assert.equal(qrFromLocation("", `#qr=${encodeURIComponent(`https://id.example/q/${ID}`)}`), `https://id.example/q/${ID}`);
  assert.equal(qrFromLocation(`?x=1&qr=${ID}`, ""), ID);
  assert.equal(qrFromLocation(`?qr=${ID}`, `#qr=${ID2}`), ID, "the query wins");
  assert.equal(qrFromLocation("?qr=nonsense", `#qr=${ID2}`), ID2, "an unusable query falls through");
  assert.equal(qrFromLocation("?qr=", ""), "");
  assert.equal(qrFromLocation("?qr=https://evil.example/", ""), "");
  assert.equal(qrFromLocation("", ""), "");
  assert.equal(qrFromLocation("?", "#"), "");
});

test("scopes in plain words", () => {
  assert.equal(scopeText("openid"), "Know who you are");
  assert.equal(scopeText("profile"), "See your name and username");
  assert.equal(scopeText("email"), "See your email address");
  assert.equal(scopeText("offline_access"), "Stay signed in");
  assert.equal(scopeText("calendar.read"), "Use “calendar.read”", "unknown scopes are named, not hidden");
  assert.equal(scopeText("toString"), "Use “toString”", "no prototype lookups");
  assert.deepEqual(describeScopes(["openid", "email", "openid", "", 7, "x"]), [
    { scope: "openid", text: "Know who you are" },
    { scope: "email", text: "See your email address" },
    { scope: "x", text: "Use “x”" },
  ]);
  assert.deepEqual(describeScopes(undefined), []);
});

test("scopes in plain words, in Chinese", () => {
  assert.equal(scopeText("openid", ZH), "知道你是谁（你的 qrid 账号 ID）");
  assert.equal(scopeText("profile", ZH), "查看你的姓名和用户名");
  assert.equal(scopeText("email", ZH), "查看你的电子邮件地址");
  assert.equal(scopeText("offline_access", ZH), "在你离开时保持登录");
  assert.equal(scopeText("calendar.read", ZH), "使用“calendar.read”");
  assert.equal(scopeText("toString", ZH), "使用“toString”");
  assert.deepEqual(describeScopes(["email", "x", "email"], ZH), [
    { scope: "email", text: "查看你的电子邮件地址" },
    { scope: "x", text: "使用“x”" },
  ]);
});

test("timeAgo", () => {
  const now = Date.parse("2030-01-02T03:04:05Z");
  const ago = (s) => new Date(now - s * 1000).toISOString();
  const cases = [
    [0, "just now"],
    [59, "just now"],
    [60, "1 minute ago"],
    [119, "1 minute ago"],
    [120, "2 minutes ago"],
    [59 * 60 + 59, "59 minutes ago"],
    [3600, "1 hour ago"],
    [5 * 3600, "5 hours ago"],
    [86400, "1 day ago"],
    [3 * 86400, "3 days ago"],
    [-300, "just now"], // a server clock ahead of the phone's
  ];
  for (const [s, want] of cases) assert.equal(timeAgo(ago(s), now), want, `${s}s`);
  assert.equal(timeAgo(new Date(now - 180_000), new Date(now)), "3 minutes ago");
  assert.equal(timeAgo("not a time", now), "");
  assert.equal(timeAgo(undefined, now), "");
});

test("timeAgo in Chinese", () => {
  const now = Date.parse("2030-01-02T03:04:05Z");
  const ago = (s) => new Date(now - s * 1000).toISOString();
  const cases = [
    [0, "刚刚"],
    [59, "刚刚"],
    [60, "1 分钟前"],
    [120, "2 分钟前"],
    [3600, "1 小时前"],
    [5 * 3600, "5 小时前"],
    [86400, "1 天前"],
    [3 * 86400, "3 天前"],
    [-300, "刚刚"],
  ];
  for (const [s, want] of cases) assert.equal(timeAgo(ago(s), now, ZH), want, `${s}s`);
  assert.equal(timeAgo("not a time", now, ZH), "");
});

test("formatCountdown", () => {
  assert.equal(formatCountdown(60), "1:00");
  assert.equal(formatCountdown(59.9), "0:59");
  assert.equal(formatCountdown(9), "0:09");
  assert.equal(formatCountdown(0), "0:00");
  assert.equal(formatCountdown(-5), "0:00");
  assert.equal(formatCountdown(NaN), "0:00");
  assert.equal(formatCountdown(65, ZH), "1:05");
  assert.equal(formatCountdown(-1, ZH), "0:00");
});

test("describeUserAgent", () => {
  const cases = [
    ["Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36", "Chrome on Android"],
    ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iPhone"],
    ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 Mobile/15E148 Safari/604.1", "Chrome on iPhone"],
    ["Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0", "Firefox on Windows"],
    ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0", "Edge on Windows"],
    ["Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Safari on macOS"],
    ["Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36", "Samsung Internet on Android"],
    ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0", "Opera on Linux"],
    ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36", "Chrome on Linux"],
    ["curl/8.5.0", "curl on unknown system"],
    ["", "Browser on unknown system"],
    [undefined, "Browser on unknown system"],
  ];
  for (const [ua, want] of cases) assert.equal(describeUserAgent(ua), want, ua);
  assert.equal(describeUserAgent(cases[0][0], ZH), "Android 上的 Chrome");
  assert.equal(describeUserAgent("", ZH), "未知系统 上的 浏览器");
});

test("hostOf and logoAllowed", () => {
  assert.equal(hostOf("https://shop.example:8443/path?q=1"), "shop.example:8443");
  assert.equal(hostOf("http://shop.example"), "shop.example");
  assert.equal(hostOf("javascript:alert(1)"), "");
  assert.equal(hostOf("not a url"), "");
  assert.equal(hostOf(undefined), "");
  const origin = "http://localhost:8080";
  assert.equal(logoAllowed("https://cdn.example/logo.png", origin), true);
  assert.equal(logoAllowed("http://localhost:8080/static/logo.png", origin), true);
  assert.equal(logoAllowed("http://cdn.example/logo.png", origin), false);
  assert.equal(logoAllowed("data:image/png;base64,AAAA", origin), false);
  assert.equal(logoAllowed("", origin), false);
});

test("outcomes", () => {
  assert.match(outcomeFor("already_scanned").text, /^This code was scanned by another device and has been closed for your safety/);
  assert.match(outcomeFor("already_scanned", ZH).text, /^另一台设备扫描了此代码，为了你的安全，它已被关闭/);
  assert.deepEqual(outcomeFor("expired", ZH), { title: "代码已过期", text: MESSAGES["zh-Hans"]["outcome.expired.text"] });
  for (const code of ["approved", "denied", "wrong_match", "expired", "already_used", "invalid_token", "forbidden"]) {
    for (const m of [undefined, ZH]) {
      const o = outcomeFor(code, m);
      assert.ok(o && o.title && o.text && !o.title.startsWith("outcome."), code);
    }
  }
  for (const code of ["not_found", "rate_limited", "invalid_request", "constructor", ""]) {
    assert.equal(outcomeFor(code), null, code);
  }
});

test("errorMessage: the catalog for known codes, else the server's message", () => {
  assert.equal(errorMessage(404, { error: "not_found", message: "No such code." }, null), "That is not a valid qrid sign-in code.");
  assert.equal(errorMessage(404, { error: "not_found", message: "No such code." }, null, ZH), "这不是有效的 qrid 登录代码。");
  assert.equal(errorMessage(401, { error: "invalid_credentials", message: "x" }, null, ZH), "用户名或密码错误。");
  assert.equal(errorMessage(429, { error: "rate_limited", message: "Too many scans. Try again in 30 seconds." }, "30", ZH), "尝试次数过多。请在 30 秒后重试。");
  assert.equal(errorMessage(400, { error: "invalid_request", message: "The body is not JSON." }, null, ZH), "The body is not JSON.", "unknown codes keep the server's words");
  assert.equal(errorMessage(400, { error: "constructor", message: "Odd." }, null), "Odd.", "no prototype lookups");
  assert.equal(errorMessage(0, null, null, ZH), "无法连接 qrid，请检查网络后重试。");
  assert.equal(errorMessage(418, null, null, ZH), "请求失败（HTTP 418）。");
  for (const code of KNOWN_ERRORS) {
    for (const lang of Object.keys(MESSAGES)) {
      assert.equal(errorMessage(400, { error: code, message: "server words" }, null, translator(lang)), MESSAGES[lang][`error.code.${code}`], `${lang} ${code}`);
    }
  }
  assert.equal(errorMessage(429, { error: "rate_limited", message: "Too many attempts." }, "30"), "Too many attempts. Try again in 30 seconds.");
  assert.equal(errorMessage(429, null, "1"), "Too many attempts. Try again in 1 second.");
  assert.equal(errorMessage(429, null, "soon"), "Too many attempts.");
  assert.match(errorMessage(0, null, null), /could not be reached/);
  assert.match(errorMessage(502, null, null), /had a problem/);
  assert.equal(errorMessage(418, { message: "" }, null), "The request failed (HTTP 418).");
});

test("the catalogs have the same keys, placeholders and no empty message", () => {
  const langs = Object.keys(MESSAGES);
  assert.deepEqual(langs, ["en", "zh-Hans"]);
  const en = MESSAGES.en;
  const holes = (msg) => [...msg.matchAll(/\{(\w+)\}/g)].map((x) => x[1]).sort();
  for (const lang of langs) {
    const cat = MESSAGES[lang];
    assert.deepEqual(Object.keys(cat).sort(), Object.keys(en).sort(), lang);
    for (const [key, msg] of Object.entries(cat)) {
      assert.equal(typeof msg, "string", `${lang} ${key}`);
      assert.ok(msg.trim() !== "", `${lang}: ${key} is empty`);
      assert.deepEqual(holes(msg), holes(en[key]), `${lang}: ${key} has other placeholders than English`);
    }
  }
});

test("every key the app uses is in the catalog", async () => {
  const { readFile } = await import("node:fs/promises");
  const dir = new URL("../templates/static/app/", import.meta.url);
  const used = new Set();
  for (const file of ["app.js", "logic.js"]) {
    const src = await readFile(new URL(file, dir), "utf8");
    for (const [, key] of src.matchAll(/\bm\(\s*"([a-z_.]+)"/g)) used.add(key);
    for (const [, key] of src.matchAll(/\bplural\(\s*m,\s*"([a-z_.]+)"/g)) {
      used.add(`${key}_one`);
      used.add(`${key}_other`);
    }
  }
  for (const key of ["confirm.prompt", "confirm.prompt_match", "confirm.approving", "confirm.denying", "signout.done", "signout.untold"]) {
    used.add(key); // chosen by a ternary inside m(...)
  }
  for (const s of ["openid", "profile", "email", "offline_access"]) used.add(`scope.${s}`);
  for (const c of OUTCOMES) { used.add(`outcome.${c}.title`); used.add(`outcome.${c}.text`); }
  for (const c of KNOWN_ERRORS) used.add(`error.code.${c}`);
  assert.ok(used.size > 40, `found only ${used.size} keys`);
  for (const key of used) assert.ok(Object.hasOwn(MESSAGES.en, key), `the app uses ${key}, which the catalog lacks`);
});

test("translator, pickLang and plural", () => {
  assert.equal(pickLang("zh-Hans"), "zh-Hans");
  assert.equal(pickLang("zh-CN"), "zh-Hans");
  assert.equal(pickLang("en"), "en");
  assert.equal(pickLang("fr"), "en");
  assert.equal(pickLang(""), "en");
  assert.equal(pickLang(undefined), "en");
  const m = translator("en");
  assert.equal(m("no.such.key"), "no.such.key", "a missing key shows as itself");
  assert.equal(m("devices.revoked", { name: "{n} $& x" }), "{n} $& x was signed out.", "values are not patterns");
  assert.equal(m("error.http"), "The request failed (HTTP {status}).", "unfilled placeholders stay");
  assert.equal(plural(m, "devices.count", 1), "1 device.");
  assert.equal(plural(m, "devices.count", 3), "3 devices.");
  assert.equal(plural(ZH, "devices.count", 3), "3 台设备。");
  assert.equal(plural(ZH, "confirm.seconds_left", 1), "还剩 1 秒可以决定。");
});
