/* minicloud console: ask before anything irreversible, in a dialog instead of a second page.
 * A form (or one of its submit buttons) marked by the "confirm" macro (templates/macros.html) carries
 *   data-confirm         the question, in the page's language,
 *   data-confirm-button  the confirm button's label,
 *   data-confirm-name    (only where the name must be typed) the name, and data-confirm-typed its prompt.
 * On submit the dialog asks; "cancel" (or Esc) leaves everything as it was; confirming adds confirmed=1
 * (and confirm_name) and posts the form. The server checks both again (handlers/pages/confirm.py);
 * without this file, or without <dialog>, the same post is answered by a confirmation page.
 * A page that refreshes itself (<meta http-equiv="refresh">, while something is in progress) stops doing so
 * while the dialog is open (window.stop() cancels the pending refresh) and refreshes again after "cancel". */
(function () {
  "use strict";
  var template = document.getElementById("confirm-dialog-template");
  if (!template || !("content" in template) || typeof HTMLDialogElement !== "function") { return; }
  var dialog = null, question, typedBox, typedInput, typedLabel, ok;
  var pending = null;
  var refresh = document.querySelector('meta[http-equiv="refresh"]');

  function build() {  // the dialog joins the page the first time it is needed
    document.body.appendChild(template.content.cloneNode(true));
    dialog = document.getElementById("confirm-dialog");
    question = document.getElementById("confirm-dialog-question");
    typedBox = document.getElementById("confirm-dialog-typed");
    typedInput = document.getElementById("confirm-dialog-name");
    typedLabel = typedBox.querySelector("label");
    ok = document.getElementById("confirm-dialog-ok");
    typedInput.addEventListener("input", function () {
      if (pending) { ok.disabled = !matches(); }
    });
    dialog.addEventListener("close", closed);
  }

  function hidden(form, name, value) {
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }

  function matches() {
    return !pending.name || typedInput.value.trim() === pending.name;
  }

  function closed() {
    var asked = pending;
    pending = null;
    if (!asked || dialog.returnValue !== "ok" || typedInput.value.trim() !== (asked.name || typedInput.value.trim())) {
      if (asked && asked.opener) { asked.opener.focus(); }
      if (refresh) {  // the refresh this page had was stopped when the dialog opened: resume it
        window.setTimeout(function () { window.location.reload(); },
                          (parseInt(refresh.getAttribute("content"), 10) || 3) * 1000);
      }
      return;
    }
    var form = asked.form;
    hidden(form, "confirmed", "1");
    if (asked.name) { hidden(form, "confirm_name", typedInput.value.trim()); }
    if (asked.submitter && asked.submitter.name) {  // form.submit() sends no button: keep its name=value
      hidden(form, asked.submitter.name, asked.submitter.value);
    }
    form.submit();
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter || null;
    var source = submitter && submitter.hasAttribute("data-confirm") ? submitter
      : (form.hasAttribute("data-confirm") ? form : null);
    if (!source || event.defaultPrevented) { return; }
    event.preventDefault();
    if (!dialog) { build(); }
    pending = {form: form, submitter: submitter, opener: submitter || document.activeElement,
               name: source.getAttribute("data-confirm-name") || ""};
    question.textContent = source.getAttribute("data-confirm");
    ok.textContent = source.getAttribute("data-confirm-button") || ok.textContent;
    typedInput.value = "";
    typedBox.hidden = !pending.name;
    typedLabel.textContent = source.getAttribute("data-confirm-typed") || "";
    ok.disabled = !matches();
    dialog.returnValue = "";
    if (refresh) { window.stop(); }  // a self-refreshing page must not reload under the open question
    dialog.showModal();
    (pending.name ? typedInput : document.getElementById("confirm-dialog-cancel")).focus();
  });
}());
