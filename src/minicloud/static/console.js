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

  // A message about the username (the check's answer, or the server's error under the field) is about the
  // name it was given for: once the name changes it no longer applies, so it goes.
  var judged = input.value.trim().toLowerCase();
  input.addEventListener("input", function () {
    if (input.value.trim().toLowerCase() === judged) { return; }
    judged = null;
    if (status.textContent) { show("", ""); }
    var error = document.getElementById("username-error");
    if (error) {
      error.remove();
      input.removeAttribute("aria-invalid");
      input.setAttribute("aria-describedby", "username-hint username-status");
      var field = input.closest(".field");
      if (field) { field.classList.remove("has-error"); }
    }
  });
}());

/* The mini PC page's serial console: the output refreshes every two seconds and a typed line goes
 * to POST /api/v1/instances/{id}/console without reloading the page. Without JavaScript the page
 * refreshes itself and the form posts to the console page route instead. */
(function () {
  "use strict";
  var pre = document.querySelector("pre[data-console-url]");
  if (!pre || !window.fetch) { return; }
  var url = pre.dataset.consoleUrl;

  function refresh() {
    fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (body && body.output && body.output !== pre.textContent) {
          var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
          pre.textContent = body.output;
          if (atBottom) { pre.scrollTop = pre.scrollHeight; }
        }
      })
      .catch(function () { /* keep what is shown; try again next time */ });
  }
  pre.scrollTop = pre.scrollHeight;
  window.setInterval(refresh, 2000);

  var form = document.getElementById("console-form");
  var input = document.getElementById("console-input");
  if (!form || !input) { return; }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var meta = document.querySelector('meta[name="csrf-token"]');
    var token = meta ? meta.getAttribute("content") : "";
    fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
      body: JSON.stringify({input: input.value + "\r"})
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      input.value = "";
      window.setTimeout(refresh, 500);
    }).catch(function () { form.submit(); });  // fall back to the plain form post
  });
}());

/* The rental form's "add a key pair" link leads away from the form: what was typed there (name, template,
 * image, subnet, groups, user data — never the password) is kept in this tab's sessionStorage and put back
 * when the form is shown again, so the detour costs nothing. The key pair chosen on the way back (the
 * server selects it from ?keypair_id=) wins over the one saved. Without JavaScript the link is a plain link. */
(function () {
  "use strict";
  var form = document.getElementById("rental-form");
  if (!form || !window.sessionStorage) { return; }
  var KEY = "minicloud.rental-draft";
  var SKIP = {csrf_token: true, password: true};

  document.querySelectorAll("a[data-keeps-draft]").forEach(function (link) {
    link.addEventListener("click", function () {
      var saved = [];
      new FormData(form).forEach(function (value, name) {
        if (!SKIP[name] && typeof value === "string") { saved.push([name, value]); }
      });
      try { window.sessionStorage.setItem(KEY, JSON.stringify(saved)); } catch (e) { /* storage full: leave */ }
    });
  });

  var raw = null;
  try { raw = window.sessionStorage.getItem(KEY); window.sessionStorage.removeItem(KEY); } catch (e) { return; }
  if (!raw) { return; }
  var saved;
  try { saved = JSON.parse(raw); } catch (e) { return; }
  var chosenKey = new URLSearchParams(window.location.search).has("keypair_id");
  var names = {};
  saved.forEach(function (pair) { (names[pair[0]] = names[pair[0]] || []).push(pair[1]); });
  Object.keys(names).forEach(function (name) {
    if (name === "keypair_id" && chosenKey) { return; }
    Array.prototype.forEach.call(form.elements, function (element) {
      if (element.name !== name) { return; }
      if (element.type === "radio" || element.type === "checkbox") {
        if (!element.disabled) { element.checked = names[name].indexOf(element.value) >= 0; }
      } else if (element.tagName === "SELECT" || element.tagName === "TEXTAREA" || element.type === "text") {
        element.value = names[name][0];
      }
    });
  });
}());
