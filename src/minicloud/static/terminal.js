/* The mini PC page's terminal and copy buttons (progressive enhancement of templates/instances/detail.html).
 *
 * Terminal: xterm.js (installed from npm by scripts/install-deps.sh, served from /static/vendor/xterm/).
 * Output streams from GET /api/v1/instances/{id}/console/stream (server-sent events; EventSource resumes
 * with Last-Event-ID after a reconnection, so nothing repeats). Every key the terminal produces — Ctrl-C
 * (\x03), arrows (ESC [ A …), Tab, Enter (\r) — goes as is to POST /api/v1/instances/{id}/console, in
 * order, one request at a time (keys typed meanwhile go together in the next). Without JavaScript (or
 * without xterm.js) the page keeps the plain text console and its line form.
 *
 * Copy buttons: [data-copy="#id"] copies that element's text with the clipboard API; where the browser
 * refuses (a page not served over https), the text is selected for Ctrl-C and the status says so.
 */
(function () {
  "use strict";
  var box = document.getElementById("terminal");
  if (!box || !window.EventSource || !window.fetch || typeof window.Terminal !== "function") { return; }

  var statusLine = document.getElementById("terminal-status");
  var plain = document.getElementById("console");
  var form = document.getElementById("console-form");
  var formHint = document.getElementById("console-hint");
  var hint = document.getElementById("terminal-hint");
  var meta = document.querySelector('meta[name="csrf-token"]');
  var token = meta ? meta.getAttribute("content") : "";
  var canType = box.dataset.canType === "true";

  function say(text) { if (statusLine) { statusLine.textContent = text || ""; } }

  function running() {  // the live region (live.js swaps it) says the mini PC's state now
    var live = document.getElementById("instance-live");
    return live ? live.dataset.state === "running" : box.dataset.running === "true";
  }

  var term = new window.Terminal({
    cursorBlink: true, scrollback: 5000, fontSize: 14, convertEol: false,
    fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, 'D2Coding', monospace",
    theme: {background: "#0f172a", foreground: "#e2e8f0", cursor: "#e2e8f0"}
  });
  var fit = window.FitAddon ? new window.FitAddon.FitAddon() : null;
  if (fit) { term.loadAddon(fit); }
  box.hidden = false;
  if (hint) { hint.hidden = !canType; }
  plain.hidden = true;
  if (form) { form.hidden = true; }
  if (formHint) { formHint.hidden = true; }
  term.open(box);
  if (fit) {
    fit.fit();
    window.addEventListener("resize", function () { fit.fit(); });
  }

  // ---- output ------------------------------------------------------------------------------
  // EventSource resumes by itself after a stream ends (Last-Event-ID); an answer that is not a stream (503)
  // closes it for good: then a new one starts after a while, from where the screen is (lastId).
  var source = null;
  var lastId = "";
  var wait = 3000;

  function connect() {
    var url = box.dataset.streamUrl + (lastId ? "?from=" + encodeURIComponent(lastId) : "");
    source = new EventSource(url);
    source.addEventListener("output", function (event) {
      var body;
      try { body = JSON.parse(event.data); } catch (e) { return; }
      if (event.lastEventId) { lastId = event.lastEventId; }
      term.write(body.data);
    });
    source.addEventListener("open", function () { say(""); wait = 3000; });
    source.addEventListener("error", function () {
      say(box.dataset.msgReconnecting);
      if (source.readyState === EventSource.CLOSED) {
        window.setTimeout(connect, wait);
        wait = Math.min(wait * 2, 60000);
      }
    });
  }
  connect();
  window.addEventListener("pagehide", function () { if (source) { source.close(); } });

  // ---- input -------------------------------------------------------------------------------
  var pending = "";
  var sending = false;

  function flush() {
    if (sending || !pending) { return; }
    var chunk = pending.slice(0, 4096);
    pending = pending.slice(chunk.length);
    sending = true;
    fetch(box.dataset.inputUrl, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
      body: JSON.stringify({input: chunk})
    }).then(function (response) {
      if (response.status === 409 || !running()) { say(box.dataset.msgNotRunning); return; }
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      say("");
    }).catch(function () {
      say(running() ? box.dataset.msgSendFailed : box.dataset.msgNotRunning);
    }).then(function () {
      sending = false;
      flush();
    });
  }

  term.onData(function (data) {
    if (!canType) { return; }
    if (!running()) { say(box.dataset.msgNotRunning); return; }
    pending += data;
    flush();
  });
  box.addEventListener("click", function () { term.focus(); });
  window.minicloudTerminal = term;  // for the browser tests and the curious
}());

(function () {
  "use strict";
  function status(text) {
    var line = document.getElementById("copy-status");
    if (line) { line.textContent = text; }
  }

  function reveal() {
    if (!navigator.clipboard && !document.execCommand) { return; }
    document.querySelectorAll("button[data-copy]").forEach(function (button) { button.hidden = false; });
  }

  function select(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-copy]") : null;
    if (!button) { return; }
    var source = document.querySelector(button.getAttribute("data-copy"));
    var line = document.getElementById("copy-status");
    if (!source || !line) { return; }
    var text = source.textContent;
    var done = function () {
      status(line.dataset.msgCopied);
      button.classList.add("copied");
      window.setTimeout(function () { button.classList.remove("copied"); }, 1500);
    };
    var failed = function () { select(source); status(line.dataset.msgFailed); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, failed);
    } else {
      failed();
    }
  });
  reveal();
  document.addEventListener("minicloud:live-updated", reveal);
}());
