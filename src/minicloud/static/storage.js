/* minicloud storage pages: progressive enhancements. Every storage page also works without this file.
 * - the bucket name field says at once when a name breaks the rule the server checks
 *   (services/storage.py: 3–63 of a-z 0-9 -, starting and ending with a letter or digit);
 * - an upload goes straight to PUT /api/v1/buckets/{bucket}/objects/{key} with a progress bar,
 *   then the listing reloads (without JavaScript the form posts to the streamed upload page);
 * - the share link's "Copy" button copies the link. Messages come from data-msg-* attributes. */
(function () {
  "use strict";

  var RULE = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

  function bucketNameHint() {
    var input = document.getElementById("bucket-name");
    var error = document.getElementById("bucket-name-error");
    if (!input || !error) { return; }
    function check(final) {
      var value = input.value.trim();
      var bad = value !== "" && !RULE.test(value);
      input.setCustomValidity(bad ? input.dataset.msgInvalid : "");
      if (bad && (final || value.length >= 3 || /[^a-z0-9-]/.test(value))) {
        error.textContent = input.dataset.msgInvalid;
        input.setAttribute("aria-invalid", "true");
        input.closest(".field").classList.add("has-error");
      } else if (!bad) {
        error.textContent = "";
        input.removeAttribute("aria-invalid");
        input.closest(".field").classList.remove("has-error");
      }
    }
    input.addEventListener("input", function () { check(false); });
    input.addEventListener("blur", function () { check(true); });
    input.form.addEventListener("submit", function (event) {
      check(true);
      if (!input.checkValidity()) { event.preventDefault(); input.focus(); }
    });
  }

  function csrfToken() {  // the page's own token; the cookie is HttpOnly
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : all;
    });
  }

  function encodeKey(key) {
    return key.split("/").map(encodeURIComponent).join("/");
  }

  function errorText(xhr, fallback) {
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && body.error && body.error.message) { return body.error.message; }
    } catch (ignored) { /* not JSON: say it in general terms */ }
    return fallback;
  }

  function uploader() {
    var form = document.getElementById("upload-form");
    if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
    var fileInput = document.getElementById("upload-file");
    var prefixInput = document.getElementById("upload-prefix");
    var bar = document.getElementById("upload-progress");
    var status = document.getElementById("upload-status");
    var button = form.querySelector("button[type=submit]");

    function show(kind, text) {
      status.className = "notice " + kind;
      status.textContent = text;
      status.hidden = false;
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var file = fileInput.files && fileInput.files[0];
      if (!file) { show("error", form.dataset.msgNoFile); fileInput.focus(); return; }
      var prefix = prefixInput.value.trim().replace(/^\/+/, "");
      if (prefix && prefix.slice(-1) !== "/") { prefix += "/"; }
      var name = file.name;
      var key = prefix + name;
      var xhr = new XMLHttpRequest();
      xhr.open("PUT", form.dataset.uploadUrl + encodeKey(key));
      xhr.setRequestHeader("X-CSRF-Token", csrfToken());
      xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
      xhr.setRequestHeader("Accept", "application/json");
      bar.value = 0;
      bar.hidden = false;
      button.disabled = true;
      show("info", fill(form.dataset.msgUploading, {name: name, percent: 0}));
      xhr.upload.onprogress = function (e) {
        if (!e.lengthComputable) { return; }
        var percent = Math.floor(e.loaded * 100 / e.total);
        bar.value = percent;
        show("info", fill(form.dataset.msgUploading, {name: name, percent: percent}));
      };
      xhr.onload = function () {
        button.disabled = false;
        if (xhr.status >= 200 && xhr.status < 300) {
          bar.value = 100;
          show("success", fill(form.dataset.msgDone, {name: name}));
          var url = new URL(window.location.href);
          url.search = "";
          if (prefix) { url.searchParams.set("prefix", prefix); }
          url.searchParams.set("uploaded", name);
          window.setTimeout(function () { window.location.assign(url.toString()); }, 600);
        } else {
          show("error", errorText(xhr, form.dataset.msgFailed));
        }
      };
      xhr.onerror = function () {
        button.disabled = false;
        show("error", form.dataset.msgFailed);
      };
      xhr.send(file);
    });
  }

  function copyButtons() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var input = document.getElementById(button.dataset.copy);
        input.select();
        var done = function () { button.textContent = button.dataset.msgCopied; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
        } else {
          document.execCommand("copy");
          done();
        }
      });
    });
  }

  bucketNameHint();
  uploader();
  copyButtons();
}());
