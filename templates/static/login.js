// The login page's QR: follows the session's status over Server-Sent Events (or a
// long-poll where EventSource is missing), completes the sign-in when the phone
// approves, and swaps in a fresh QR when one expires or is refused.
(function () {
  "use strict";
  var section = document.getElementById("qr-login");
  var form = document.getElementById("qr-complete");
  if (!section || !form) { return; }
  var statusEl = document.getElementById("qr-status");
  var image = document.getElementById("qr-image");
  var renewButton = document.getElementById("qr-renew");
  var matchLine = document.getElementById("qr-match");
  var matchCode = document.getElementById("qr-match-code");
  var userCode = document.getElementById("qr-user-code");
  var current = { events: section.dataset.events, status: section.dataset.status, id: section.dataset.qrId };
  var source = null;
  var generation = 0;

  // The page puts its messages, in the page's language, in data-msg-* attributes.
  var d = section.dataset;
  var messages = {
    pending: d.msgPending,
    scanned: d.msgScanned,
    approved: d.msgApproved,
    expired: d.msgExpired,
    used: d.msgUsed,
    denied: d.msgDenied,
    contested: d.msgContested,
    wrong_match: d.msgWrongMatch
  };
  var renewFailed = d.msgRenewFailed;

  function show(text) { statusEl.textContent = text; }

  function onStatus(st) {
    section.dataset.state = st.status;
    section.dataset.reason = st.reason || "";
    if (st.status === "approved") {
      stop();
      show(messages.approved);
      form.elements.qr_id.value = current.id;
      form.submit();
      return true;
    }
    if (st.status === "expired") {
      stop();
      show(messages.expired);
      renew();
      return true;
    }
    if (st.status === "denied" || st.status === "used") {
      stop();
      show(messages[st.reason] || messages[st.status]);
      renewButton.hidden = false;
      renewButton.focus();
      return true;
    }
    show(messages[st.status] || st.status);
    return false;
  }

  function stop() {
    generation++;
    if (source) { source.close(); source = null; }
  }

  function follow() {
    var mine = ++generation;
    if (window.EventSource) {
      source = new EventSource(current.events);
      source.addEventListener("status", function (e) {
        if (mine !== generation) { return; }
        onStatus(JSON.parse(e.data));
      });
      source.onerror = function () {
        // EventSource reconnects by itself; a closed stream after a final status
        // was already handled.
        if (mine !== generation) { return; }
      };
      return;
    }
    longPoll(mine, "");
  }

  function longPoll(mine, since) {
    fetch(current.status + "?wait=25&since=" + encodeURIComponent(since), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error("status " + r.status); } return r.json(); })
      .then(function (st) {
        if (mine !== generation) { return; }
        if (!onStatus(st)) { longPoll(mine, st.status); }
      })
      .catch(function () {
        if (mine !== generation) { return; }
        setTimeout(function () { longPoll(mine, since); }, 2000);
      });
  }

  function renew() {
    renewButton.hidden = true;
    var body = new URLSearchParams();
    body.set("csrf", form.elements.csrf.value);
    body.set("authz", form.elements.authz.value);
    fetch(section.dataset.renew, { method: "POST", body: body, credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error("status " + r.status); } return r.json(); })
      .then(function (v) {
        current = { events: v.events_uri, status: v.status_uri, id: v.qr_id };
        section.dataset.qrId = v.qr_id;
        image.src = v.image_uri;
        userCode.textContent = v.user_code;
        matchCode.textContent = v.match_code || "";
        matchLine.hidden = !v.match_code;
        show(messages.pending);
        follow();
      })
      .catch(function () {
        show(renewFailed);
        renewButton.hidden = false;
      });
  }

  renewButton.addEventListener("click", function () { stop(); renew(); });
  follow();
})();
