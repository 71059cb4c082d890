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
  // When the time is up, ask the server first (in the background, which is not
  // activity): another tab may have kept the session alive.
  function check() {
    fetch("/session/idle", {
      headers: { "X-Mama-Background": "1", "Accept": "application/json" },
      credentials: "same-origin",
      redirect: "manual"
    }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (j) {
      if (j && j.idle_left_secs > 0) {
        timer = setTimeout(check, j.idle_left_secs * 1000 + 1000);
      } else {
        expire();
      }
    }).catch(expire);
  }
  // One second past the server's timeout, so the server agrees the session is over.
  function arm() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(check, idle * 1000 + 1000);
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
      out.textContent = all.getAttribute("data-total") || "all";
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

// ---- pickers: type-ahead multi-select over a plain checkbox list ----
// Without JavaScript a picker is its list of checkboxes. Here it gains a filter box:
// type to narrow the list, ArrowDown/ArrowUp to move, Enter or Space to tick,
// Escape to clear; the chosen names show as chips (Backspace in an empty box, or a
// click on a chip, takes the last/that one off).
(function () {
  "use strict";
  function options(p) { return Array.prototype.slice.call(p.querySelectorAll(".picker-option")); }
  function visible(p) { return options(p).filter(function (o) { return !o.hidden; }); }
  function renderChips(p) {
    var chips = p.querySelector(".picker-chips");
    if (!chips) return;
    chips.textContent = "";
    options(p).forEach(function (o) {
      var box = o.querySelector("input");
      if (!box.checked) return;
      var b = document.createElement("button");
      b.type = "button";
      b.className = "chip" + (o.classList.contains("model-red") ? " chip-red" : "");
      b.textContent = o.getAttribute("data-value") + " \u00d7";
      b.setAttribute("aria-label", (p.getAttribute("data-t-remove") || "Remove") + " " + o.getAttribute("data-value"));
      b.addEventListener("click", function () { box.checked = false; renderChips(p); });
      chips.appendChild(b);
    });
    var none = p.getAttribute("data-picker") === "dropdown" && !chips.firstChild;
    if (none) {
      var s = document.createElement("span");
      s.className = "muted chip-none";
      s.textContent = p.getAttribute("data-t-none") || "none chosen";
      chips.appendChild(s);
    }
  }
  function setActive(p, o) {
    options(p).forEach(function (x) { x.classList.remove("active"); });
    if (o) {
      o.classList.add("active");
      o.scrollIntoView({ block: "nearest" });
      p.querySelector(".picker-filter").setAttribute("aria-activedescendant", o.id);
    }
  }
  function filter(p, text) {
    var t = text.trim().toLowerCase();
    options(p).forEach(function (o) {
      o.hidden = t !== "" && o.getAttribute("data-value").toLowerCase().indexOf(t) < 0;
    });
    var v = visible(p);
    setActive(p, t !== "" && v.length ? v[0] : null);
  }
  function enhance(p) {
    if (p.classList.contains("picker-js")) return;
    p.classList.add("picker-js");
    var list = p.querySelector(".picker-options");
    var legend = p.querySelector("legend");
    var id = p.id || ("picker-" + Math.random().toString(36).slice(2));
    list.id = id + "-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-multiselectable", "true");
    options(p).forEach(function (o, i) { o.id = id + "-opt-" + i; o.setAttribute("role", "option"); });
    var chips = document.createElement("div");
    chips.className = "picker-chips";
    var input = document.createElement("input");
    input.type = "text";
    input.className = "picker-filter";
    input.id = id + "-filter";
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("autocomplete", "off");
    // The page gives the words in its language (data-t-* on the picker).
    var hint = p.getAttribute("data-t-filter") || "Type to filter, Enter to choose";
    input.setAttribute("aria-label", (legend ? legend.textContent + ": " : "") + hint);
    input.placeholder = hint;
    p.insertBefore(chips, list);
    p.insertBefore(input, list);
    renderChips(p);
    input.addEventListener("input", function () { filter(p, input.value); p.classList.add("open"); });
    input.addEventListener("focus", function () { p.classList.add("open"); });
    input.addEventListener("keydown", function (e) {
      var v = visible(p);
      var cur = p.querySelector(".picker-option.active");
      var i = cur ? v.indexOf(cur) : -1;
      if (e.key === "ArrowDown") { e.preventDefault(); p.classList.add("open"); setActive(p, v[Math.min(i + 1, v.length - 1)]); }
      else if (e.key === "ArrowUp") { e.preventDefault(); setActive(p, v[Math.max(i - 1, 0)]); }
      else if ((e.key === "Enter" || (e.key === " " && cur && input.value === "")) && cur) {
        e.preventDefault();
        var box = cur.querySelector("input");
        box.checked = !box.checked;
        renderChips(p);
        input.value = "";
        filter(p, "");
        setActive(p, cur);
      } else if (e.key === "Enter") { e.preventDefault(); }
      else if (e.key === "Escape") {
        if (input.value) { e.preventDefault(); e.stopPropagation(); input.value = ""; filter(p, ""); }
        else { p.classList.remove("open"); }
      } else if (e.key === "Backspace" && input.value === "") {
        var checked = options(p).filter(function (o) { return o.querySelector("input").checked; });
        if (checked.length) { checked[checked.length - 1].querySelector("input").checked = false; renderChips(p); }
      }
    });
    p.addEventListener("change", function () { renderChips(p); });
    p.addEventListener("focusout", function () {
      setTimeout(function () { if (!p.contains(document.activeElement)) p.classList.remove("open"); }, 0);
    });
  }
  function enhanceAll(root) {
    Array.prototype.slice.call((root || document).querySelectorAll("[data-picker]")).forEach(enhance);
  }
  document.addEventListener("DOMContentLoaded", function () { enhanceAll(document); });
  document.addEventListener("htmx:afterSwap", function (evt) { enhanceAll(evt.detail.target); });
})();

// ---- users: the bulk bar shows only the inputs its action needs ----
(function () {
  "use strict";
  function sync() {
    var op = document.getElementById("bulk-op");
    if (!op) return;
    var opt = op.options[op.selectedIndex];
    var needs = opt ? opt.getAttribute("data-needs") : "";
    Array.prototype.slice.call(document.querySelectorAll(".bulk-input")).forEach(function (w) {
      var on = w.getAttribute("data-for") === needs;
      w.hidden = !on;
      Array.prototype.slice.call(w.querySelectorAll("input")).forEach(function (i) { i.disabled = !on; });
    });
  }
  document.addEventListener("change", function (evt) { if (evt.target.id === "bulk-op") sync(); });
  document.addEventListener("DOMContentLoaded", sync);
})();

// ---- create-many: the preview comes into view ----
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var p = document.getElementById("create-preview");
    if (p) p.scrollIntoView({ block: "start" });
  });
})();
