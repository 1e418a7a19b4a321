// Portico dashboard: progressive enhancement only. Every page works
// without this script; it adds copy buttons, the live download count of
// the package page, the preview of the install command in the package
// forms, and a confirmation before deleting.
"use strict";

function copyButtons() {
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var el = document.getElementById(b.getAttribute("data-copy"));
      if (!el) return;
      var text = "value" in el && el.tagName === "INPUT" ? el.value : el.textContent;
      var done = function () {
        var label = b.firstChild.nodeValue;
        b.firstChild.nodeValue = "Copied";
        setTimeout(function () { b.firstChild.nodeValue = label; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { select(el); });
      } else {
        select(el);
        try { if (document.execCommand("copy")) done(); } catch (e) { /* selected for copying by hand */ }
      }
    });
  });
}

function select(el) {
  if (el.select) { el.focus(); el.select(); return; }
  var r = document.createRange();
  r.selectNodeContents(el);
  var s = window.getSelection();
  s.removeAllRanges();
  s.addRange(r);
}

// live polls the package's count every two seconds. When the server
// cannot be reached the page keeps what it shows, says so, and tries
// again less often. When the session has ended, polling again cannot
// help: the page says so and links to the sign-in form, which brings
// the visitor back here.
function live() {
  var box = document.querySelector("[data-live-url]");
  if (!box || !window.fetch) return;
  var url = box.getAttribute("data-live-url");
  var total = box.querySelector("[data-live-total]");
  var status = box.querySelector("[data-live-status]");
  var delay = 2000;
  function ended() {
    var a = document.createElement("a");
    a.href = "/signin?next=" + encodeURIComponent(location.pathname + location.search);
    a.textContent = "Sign in again";
    status.textContent = "Your session has ended: showing the last count. ";
    status.appendChild(a);
    status.appendChild(document.createTextNode(" to see it live."));
    status.classList.add("offline");
  }
  function tick() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) return null;
        if (!r.ok) throw new Error("status " + r.status);
        return r.json();
      })
      .then(function (d) {
        if (d === null) {
          ended();
          return false;
        }
        if (total.textContent !== d.text) total.textContent = d.text;
        status.textContent = "Live: updated " + new Date(d.at).toLocaleTimeString() + ".";
        status.classList.remove("offline");
        delay = 2000;
        return true;
      })
      .catch(function () {
        status.textContent = "Cannot reach Portico: showing the last count, trying again.";
        status.classList.add("offline");
        delay = Math.min(delay * 2, 30000);
        return true;
      })
      .then(function (again) { if (again) setTimeout(tick, delay); });
  }
  setTimeout(tick, delay);
}

// preview asks the server for the command a package form describes, as
// the user types.
function preview() {
  var form = document.querySelector("form[data-preview-url]");
  if (!form || !window.fetch || !window.URLSearchParams) return;
  var out = form.querySelector("[data-preview]");
  var timer = null;
  function update() {
    var params = new URLSearchParams(new FormData(form));
    fetch(form.getAttribute("data-preview-url") + "?" + params.toString(), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error(); return r.text(); })
      .then(function (t) { out.textContent = t; })
      .catch(function () { /* keep the last preview */ });
  }
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(update, 150);
  });
}

function confirmations() {
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
}

copyButtons();
live();
preview();
confirmations();
