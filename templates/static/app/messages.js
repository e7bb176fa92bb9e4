// The words app.js and logic.js show, in English and Simplified Chinese. Both
// catalogs have the same keys (web/logic.test.js checks it). Placeholders are
// {name}; a count has a _one and an _other key, since English needs both (the
// Chinese messages of the pair are the same). The Chinese wording follows the
// server's pages (provider/i18n): 登录, 二维码, 代码, 确认, 拒绝, 另一块屏幕.
// The app picks a catalog by <html lang>, which the server sets from the
// request's Accept-Language; the shell's own static texts are rendered by the
// server (provider/webapp).

const en = {
  "session.ended": "Your sign-in on this phone has ended. Sign in again.",
  "error.generic": "Something went wrong. Try again.",
  "error.network": "qrid could not be reached. Check your connection and try again.",
  "error.too_many": "Too many attempts.",
  "error.server": "qrid had a problem. Try again in a moment.",
  "error.http": "The request failed (HTTP {status}).",
  "error.retry_one": "Try again in {n} second.",
  "error.retry_other": "Try again in {n} seconds.",
  "error.code.already_scanned": "This code was scanned by another device and has been closed for your safety. Ask the other screen for a new code.",
  "error.code.expired": "This sign-in has expired. Ask the other screen for a new code and scan it again.",
  "error.code.wrong_match": "That was not the number shown on the screen, so the sign-in was refused.",
  "error.code.already_used": "This sign-in was already approved or refused.",
  "error.code.invalid_credentials": "The username or the password is wrong.",
  "error.code.rate_limited": "Too many attempts.",
  "error.code.not_found": "That is not a valid qrid sign-in code.",
  "error.code.unauthorized": "Your sign-in on this phone has ended. Sign in again.",

  "signin.missing": "Enter your username and password.",
  "signin.busy": "Signing in…",
  "start.pending": "Sign in first; the code you opened will be checked next.",

  "scan.checking": "Checking the code…",
  "scan.bad_user_code": "That is not a sign-in code. It has eight letters, like BCDF-GHJK.",
  "scan.not_qrid": "This QR code is not a qrid sign-in code.",
  "camera.unsupported": "This browser cannot use the camera here. Take a photo of the code or type it instead.",
  "camera.denied": "The camera is not allowed. Allow it in the browser's settings, or take a photo of the code or type it.",
  "camera.failed": "The camera could not be started. Take a photo of the code or type it instead.",
  "camera.on": "Camera on. Point it at the QR code.",
  "camera.off": "Camera off.",
  "photo.reading": "Reading the photo…",
  "photo.unreadable": "That file could not be read as an image.",
  "photo.no_code": "No QR code was found in the photo. Try again closer, or type the code.",

  "confirm.unnamed_client": "an application",
  "confirm.no_scopes": "Nothing beyond signing you in",
  "confirm.ua_not_sent": "(not sent)",
  "confirm.unknown": "unknown",
  "confirm.other_network": "This sign-in was started on another network than this phone's. Only continue if you started it yourself on that screen.",
  "confirm.prompt": "Check the details, then approve or deny.",
  "confirm.prompt_match": "Pick the number shown on the other screen, or deny.",
  "confirm.seconds_left_one": "{n} second left to decide.",
  "confirm.seconds_left_other": "{n} seconds left to decide.",
  "confirm.approving": "Approving…",
  "confirm.denying": "Denying…",
  "countdown": "{m}:{ss}",

  "outcome.announce": "{title}. {text}",
  "outcome.done.title": "Done",
  "outcome.done.text": "Your decision was sent.",
  "outcome.approved.title": "Approved",
  "outcome.approved.text": "The other screen is signing in now. You can close this or scan another code.",
  "outcome.denied.title": "Denied",
  "outcome.denied.text": "The sign-in was refused. The other screen was not signed in.",
  "outcome.already_scanned.title": "Code closed",
  "outcome.already_scanned.text": "This code was scanned by another device and has been closed for your safety. If you did not expect that, do not sign in: ask the other screen for a new code.",
  "outcome.wrong_match.title": "Wrong number",
  "outcome.wrong_match.text": "That was not the number shown on the screen, so the sign-in was refused for your safety. Start again on the other screen.",
  "outcome.expired.title": "Code expired",
  "outcome.expired.text": "This sign-in code, or the time to decide, has expired. Scan the code again, or ask the other screen for a new one.",
  "outcome.already_used.title": "Already decided",
  "outcome.already_used.text": "This sign-in was already approved or refused.",
  "outcome.invalid_token.title": "Scan again",
  "outcome.invalid_token.text": "This confirmation was replaced by a newer scan or is no longer valid. Scan the code again.",
  "outcome.forbidden.title": "Not yours",
  "outcome.forbidden.text": "This sign-in was scanned by another device or account.",

  "devices.loading": "Loading your devices…",
  "devices.unnamed": "Unnamed device",
  "devices.meta": "{type}, signed in {created}",
  "devices.meta_seen": "{type}, signed in {created}, last seen {seen}",
  "devices.this_phone": "This phone",
  "devices.sign_out": "Sign out",
  "devices.sign_out_label": "Sign out {name}",
  "devices.count_one": "{n} device.",
  "devices.count_other": "{n} devices.",
  "devices.revoked": "{name} was signed out.",
  "devices.revoked_unnamed": "The device was signed out.",
  "signout.done": "Signed out of this phone.",
  "signout.untold": "Signed out of this phone, but qrid could not be told. Sign this phone out from another device's list.",

  "scope.openid": "Know who you are",
  "scope.profile": "See your name and username",
  "scope.email": "See your email address",
  "scope.offline_access": "Stay signed in",
  "scope.other": "Use “{scope}”",

  "time.just_now": "just now",
  "time.minutes_one": "{n} minute ago",
  "time.minutes_other": "{n} minutes ago",
  "time.hours_one": "{n} hour ago",
  "time.hours_other": "{n} hours ago",
  "time.days_one": "{n} day ago",
  "time.days_other": "{n} days ago",

  "ua.describe": "{browser} on {system}",
  "ua.browser": "Browser",
  "ua.system": "unknown system",
};

const zhHans = {
  "session.ended": "你在这部手机上的登录已结束，请重新登录。",
  "error.generic": "出了点问题，请重试。",
  "error.network": "无法连接 qrid，请检查网络后重试。",
  "error.too_many": "尝试次数过多。",
  "error.server": "qrid 出了问题，请稍后再试。",
  "error.http": "请求失败（HTTP {status}）。",
  "error.retry_one": "请在 {n} 秒后重试。",
  "error.retry_other": "请在 {n} 秒后重试。",
  "error.code.already_scanned": "另一台设备扫描了此代码，为了你的安全，它已被关闭，请让另一块屏幕显示新的代码。",
  "error.code.expired": "此次登录已过期，请让另一块屏幕显示新的代码后重新扫描。",
  "error.code.wrong_match": "这不是屏幕上显示的数字，登录已被拒绝。",
  "error.code.already_used": "此次登录已经被确认或拒绝过了。",
  "error.code.invalid_credentials": "用户名或密码错误。",
  "error.code.rate_limited": "尝试次数过多。",
  "error.code.not_found": "这不是有效的 qrid 登录代码。",
  "error.code.unauthorized": "你在这部手机上的登录已结束，请重新登录。",

  "signin.missing": "请输入用户名和密码。",
  "signin.busy": "正在登录…",
  "start.pending": "请先登录，之后会核对你打开的代码。",

  "scan.checking": "正在核对代码…",
  "scan.bad_user_code": "这不是登录代码。登录代码由八个字母组成，例如 BCDF-GHJK。",
  "scan.not_qrid": "这个二维码不是 qrid 登录代码。",
  "camera.unsupported": "此浏览器无法在这里使用相机。请拍下代码的照片，或手动输入代码。",
  "camera.denied": "相机未获允许。请在浏览器设置中允许使用相机，或拍下代码的照片，或手动输入代码。",
  "camera.failed": "无法启动相机。请拍下代码的照片，或手动输入代码。",
  "camera.on": "相机已开启，请对准二维码。",
  "camera.off": "相机已关闭。",
  "photo.reading": "正在读取照片…",
  "photo.unreadable": "无法将该文件读取为图片。",
  "photo.no_code": "照片中没有找到二维码。请靠近一些重拍，或手动输入代码。",

  "confirm.unnamed_client": "一个应用",
  "confirm.no_scopes": "仅让你登录，不含其他权限",
  "confirm.ua_not_sent": "（未发送）",
  "confirm.unknown": "未知",
  "confirm.other_network": "这次登录是在与本手机不同的网络上发起的。只有在那块屏幕上的登录是你本人发起时才继续。",
  "confirm.prompt": "请核对详情，然后确认或拒绝。",
  "confirm.prompt_match": "请选择另一块屏幕上显示的数字，或拒绝。",
  "confirm.seconds_left_one": "还剩 {n} 秒可以决定。",
  "confirm.seconds_left_other": "还剩 {n} 秒可以决定。",
  "confirm.approving": "正在确认…",
  "confirm.denying": "正在拒绝…",
  "countdown": "{m}:{ss}",

  "outcome.announce": "{title}。{text}",
  "outcome.done.title": "已完成",
  "outcome.done.text": "你的决定已发送。",
  "outcome.approved.title": "已确认",
  "outcome.approved.text": "另一块屏幕正在登录。你可以关闭此页面，或扫描另一个代码。",
  "outcome.denied.title": "已拒绝",
  "outcome.denied.text": "登录已被拒绝，另一块屏幕没有登录。",
  "outcome.already_scanned.title": "代码已关闭",
  "outcome.already_scanned.text": "另一台设备扫描了此代码，为了你的安全，它已被关闭。如果这出乎你的意料，请不要登录：请让另一块屏幕显示新的代码。",
  "outcome.wrong_match.title": "数字不对",
  "outcome.wrong_match.text": "这不是屏幕上显示的数字，为了你的安全，登录已被拒绝。请在另一块屏幕上重新开始。",
  "outcome.expired.title": "代码已过期",
  "outcome.expired.text": "此登录代码或决定的时限已过期。请重新扫描代码，或让另一块屏幕显示新的代码。",
  "outcome.already_used.title": "已经处理过",
  "outcome.already_used.text": "此次登录已经被确认或拒绝过了。",
  "outcome.invalid_token.title": "请重新扫描",
  "outcome.invalid_token.text": "此确认已被更新的扫描取代，或已失效。请重新扫描代码。",
  "outcome.forbidden.title": "不属于你",
  "outcome.forbidden.text": "此次登录已由另一台设备或另一个账号扫描。",

  "devices.loading": "正在加载你的设备…",
  "devices.unnamed": "未命名设备",
  "devices.meta": "{type}，{created}登录",
  "devices.meta_seen": "{type}，{created}登录，最近使用：{seen}",
  "devices.this_phone": "本机",
  "devices.sign_out": "退出登录",
  "devices.sign_out_label": "让 {name} 退出登录",
  "devices.count_one": "{n} 台设备。",
  "devices.count_other": "{n} 台设备。",
  "devices.revoked": "{name} 已退出登录。",
  "devices.revoked_unnamed": "该设备已退出登录。",
  "signout.done": "已在这部手机上退出登录。",
  "signout.untold": "已在这部手机上退出登录，但未能通知 qrid。请在另一台设备的列表中让这部手机退出登录。",

  "scope.openid": "知道你是谁（你的 qrid 账号 ID）",
  "scope.profile": "查看你的姓名和用户名",
  "scope.email": "查看你的电子邮件地址",
  "scope.offline_access": "在你离开时保持登录",
  "scope.other": "使用“{scope}”",

  "time.just_now": "刚刚",
  "time.minutes_one": "{n} 分钟前",
  "time.minutes_other": "{n} 分钟前",
  "time.hours_one": "{n} 小时前",
  "time.hours_other": "{n} 小时前",
  "time.days_one": "{n} 天前",
  "time.days_other": "{n} 天前",

  "ua.describe": "{system} 上的 {browser}",
  "ua.browser": "浏览器",
  "ua.system": "未知系统",
};

/** The catalogs by language tag, as the server writes <html lang>. */
export const MESSAGES = Object.freeze({ en: Object.freeze(en), "zh-Hans": Object.freeze(zhHans) });

/** The language used when the page names none the app speaks. */
export const DEFAULT_LANG = "en";

/**
 * pickLang returns the catalog's tag for a page language: an exact tag, any
 * Chinese as zh-Hans (as the server matches), anything else English.
 * @param {string} lang e.g. document.documentElement.lang
 * @returns {string}
 */
export function pickLang(lang) {
  const l = typeof lang === "string" ? lang : "";
  if (Object.hasOwn(MESSAGES, l)) return l;
  if (/^zh\b/i.test(l)) return "zh-Hans";
  return DEFAULT_LANG;
}

/**
 * translator returns m(key, vars): the message for key in lang with each {name}
 * replaced by vars[name]. A key the catalog lacks falls back to English, and one
 * English lacks reads as the key itself, so a mistake shows but breaks nothing.
 * @param {string} lang
 * @returns {(key: string, vars?: Record<string, string|number>) => string}
 */
export function translator(lang) {
  const cat = MESSAGES[pickLang(lang)];
  return (key, vars) => {
    let msg = Object.hasOwn(cat, key) ? cat[key] : Object.hasOwn(en, key) ? en[key] : key;
    if (vars) {
      msg = msg.replace(/\{(\w+)\}/g, (all, name) => (Object.hasOwn(vars, name) ? String(vars[name]) : all));
    }
    return msg;
  };
}

/**
 * plural returns the message of a count: key_one for 1, key_other otherwise, with
 * {n} set to the count.
 * @param {(key: string, vars?: object) => string} m a translator
 * @param {string} key
 * @param {number} n
 * @param {Record<string, string|number>} [vars]
 * @returns {string}
 */
export function plural(m, key, n, vars = {}) {
  return m(`${key}_${n === 1 ? "one" : "other"}`, { ...vars, n });
}
