/* minicloud console: small progressive enhancements. Every page also works without this file.
 * - the project switcher submits as soon as another project is chosen;
 * - the sign-up "check availability" button asks GET /api/v1/auth/username-available
 *   instead of reloading the page (messages come from data-msg-* attributes, in the page's language). */
(function () {
  "use strict";

  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  var button = document.querySelector("button[data-username-check]");
  var input = document.getElementById("username");
  var status = document.getElementById("username-status");
  if (!button || !input || !status || !window.fetch) {
    return;
  }
  var RULE = /^[a-z0-9_-]{3,32}$/;  // the same rule the server checks (services/accounts.py)

  function show(kind, text) {
    status.className = "status " + kind;
    status.textContent = text;
  }

  button.addEventListener("click", function (event) {
    event.preventDefault();
    var name = input.value.trim().toLowerCase();
    if (!RULE.test(name)) {
      show("invalid", status.dataset.msgInvalid);
      input.focus();
      return;
    }
    show("checking", status.dataset.msgChecking);
    fetch(button.dataset.usernameCheck + "?username=" + encodeURIComponent(name), {
      headers: {"Accept": "application/json"}, credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (body) {
      if (input.value.trim().toLowerCase() !== name) { return; }  // the user typed on meanwhile
      var text = body.available ? status.dataset.msgAvailable : status.dataset.msgTaken;
      show(body.available ? "available" : "taken", text.replace("{username}", name));
    }).catch(function () {
      // Fall back to the server-rendered check (the same as without JavaScript).
      if (button.form.requestSubmit) { button.form.requestSubmit(button); } else { show("", ""); }
    });
  });

  input.addEventListener("input", function () {
    if (status.classList.contains("available") || status.classList.contains("taken")) { show("", ""); }
  });
}());
