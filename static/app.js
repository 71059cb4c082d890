// mama's small behaviours. Loaded as a file: the CSP forbids inline script.
// Every page works without it; it only adds conveniences.
(function () {
  "use strict";
  // Send the CSRF token with htmx requests too (forms already carry it).
  document.addEventListener("htmx:configRequest", function (evt) {
    var input = document.querySelector("input[name=csrf_token]");
    if (input && !evt.detail.parameters["csrf_token"]) {
      evt.detail.parameters["csrf_token"] = input.value;
    }
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
