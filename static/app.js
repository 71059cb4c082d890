// mama's small behaviours. Loaded as a file: the CSP forbids inline script.
// Every page works without it; it only adds conveniences.
(function () {
  "use strict";
  // State-changing htmx requests carry the CSRF token in a header; GETs carry nothing,
  // so the token never lands in a URL (or the audit trail's path).
  function csrfToken() {
    var meta = document.querySelector("meta[name=csrf-token]");
    if (meta) return meta.content;
    var input = document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }
  document.addEventListener("htmx:configRequest", function (evt) {
    if (String(evt.detail.verb).toLowerCase() === "get") {
      delete evt.detail.parameters["csrf_token"];
      return;
    }
    var t = csrfToken();
    if (t) evt.detail.headers["X-CSRF-Token"] = t;
  });
})();

// ---- session expiry: the page returns to /login by itself when the idle time passes ----
(function () {
  "use strict";
  var meta = document.querySelector("meta[name=mama-idle-seconds]");
  var idle = meta ? parseInt(meta.content, 10) : 0;
  if (!idle || idle <= 0) return;
  var timer = null;
  function expire() {
    var here = location.pathname + location.search;
    location.href = "/login?expired=1&next=" + encodeURIComponent(here);
  }
  // One second past the server's timeout, so the server agrees the session is over.
  function arm() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(expire, idle * 1000 + 1000);
  }
  arm();
  // Real activity (a click that reaches the server) re-arms the timer; polls do not,
  // just as they do not keep the session alive on the server.
  document.addEventListener("htmx:afterRequest", function (evt) {
    var cfg = evt.detail.requestConfig || {};
    var headers = cfg.headers || {};
    if (!headers["X-Mama-Background"]) arm();
  });
})();

// ---- users: selection, select-all-matching, the edit dialog ----
(function () {
  "use strict";
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("input.row-select")); }
  function updateCount() {
    var out = document.getElementById("selected-count");
    if (!out) return;
    var all = document.getElementById("all-matching");
    if (all && all.checked) {
      out.textContent = all.parentNode.textContent.replace(/\D+/g, " ").trim().split(" ")[0] || "all";
      return;
    }
    out.textContent = String(rows().filter(function (c) { return c.checked; }).length);
  }
  document.addEventListener("change", function (evt) {
    var t = evt.target;
    if (t.id === "select-page") {
      rows().forEach(function (c) { c.checked = t.checked; });
    } else if (t.id === "all-matching") {
      rows().forEach(function (c) { c.checked = t.checked; });
      var page = document.getElementById("select-page");
      if (page) page.checked = t.checked;
    } else if (t.classList && t.classList.contains("row-select")) {
      var all = document.getElementById("all-matching");
      if (all && !t.checked) all.checked = false;
    }
    updateCount();
  });
  document.addEventListener("DOMContentLoaded", updateCount);

  // A click on a row (outside its checkbox and links) opens the user, like its ID link.
  document.addEventListener("click", function (evt) {
    var t = evt.target;
    if (t.closest && t.closest(".dialog-close") && t.closest("dialog")) {
      evt.preventDefault();
      t.closest("dialog").close();
      return;
    }
    var tr = t.closest ? t.closest("#users tbody tr") : null;
    if (!tr || t.closest("input, a, button, label")) return;
    var link = tr.querySelector("a.edit-link");
    if (link) link.click();
  });

  document.addEventListener("htmx:afterSwap", function (evt) {
    if (evt.detail.target && evt.detail.target.id === "dialog-body") {
      var dlg = document.getElementById("edit-dialog");
      if (dlg && !dlg.open) dlg.showModal();
    }
  });
})();

// ---- users: load a CSV file into the create-many box (the server sees plain text) ----
(function () {
  "use strict";
  document.addEventListener("change", function (evt) {
    var t = evt.target;
    if (t.id !== "csv-file" || !t.files || !t.files[0]) return;
    var box = document.getElementById("lines");
    if (!box) return;
    var reader = new FileReader();
    reader.onload = function () { box.value = String(reader.result || ""); };
    reader.readAsText(t.files[0]);
  });
})();
