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
