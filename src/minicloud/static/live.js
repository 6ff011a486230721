/* minicloud live pages: what the page shows stays true without reloading.
 *
 * A page marks what it shows with data-live="<kinds>" (instances, jobs, apps, buckets, vpcs, subnets,
 * security_groups, public_ips), optionally data-live-id="<id>" (only changes of that resource, or of jobs
 * whose target it is). This script listens to GET /events (server-sent events of the acting project's
 * changes, fed by PostgreSQL LISTEN/NOTIFY) and, when a change concerns the page, fetches the same URL
 * and swaps the marked regions' HTML: no page has rendering code here.
 *
 * - Regions with an id that the fresh page also has are replaced one by one (the rest of the page, a
 *   terminal for instance, is left alone).
 * - Otherwise (regions without an id, or the page's structure changed: an empty list got its first row)
 *   the whole <main> is replaced — unless the user is typing in a form there; then only the regions that
 *   can be matched are, and the rest waits for the next change.
 * - While a dialog is open (confirm.js asking "delete …?") nothing is swapped: the form it will post must stay
 *   in the page. The refresh happens when the dialog closes.
 * Without JavaScript the pages refresh themselves with <noscript><meta http-equiv="refresh"></noscript>.
 */
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch || !window.DOMParser) { return; }
  if (!document.querySelector("[data-live]")) { return; }

  var main = document.getElementById("main");
  var dirty = false;      // the user changed a field inside <main> since the last swap
  var timer = null;
  var busy = false;
  var again = false;
  var held = false;       // a change arrived while a dialog (a confirmation) was open: refresh once it closes

  document.addEventListener("input", function (event) {
    if (main && main.contains(event.target)) { dirty = true; }
  });
  document.addEventListener("submit", function () { dirty = false; });

  function regions(root) {
    return Array.prototype.slice.call(root.querySelectorAll("[data-live]"));
  }

  function concerns(change) {
    return regions(document).some(function (region) {
      var kinds = (region.getAttribute("data-live") || "").split(/\s+/);
      if (kinds.indexOf(change.kind) < 0) { return false; }
      var only = region.getAttribute("data-live-id");
      if (!only || (change.kind !== "instances" && change.kind !== "jobs" && change.kind !== "apps")) {
        return true;
      }
      return change.id === only || change.target === only;
    });
  }

  function typing() {
    var active = document.activeElement;
    var field = active && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName) && main && main.contains(active);
    return dirty || field;
  }

  function swap(fresh) {
    var here = regions(document);
    var matched = here.every(function (region) { return region.id && fresh.getElementById(region.id); });
    var extra = regions(fresh).some(function (region) { return !region.id || !document.getElementById(region.id); });
    if (matched && !extra) {
      here.forEach(function (region) { region.replaceWith(document.importNode(fresh.getElementById(region.id), true)); });
    } else if (!typing()) {
      var freshMain = fresh.getElementById("main");
      if (freshMain && main) {
        main.replaceChildren.apply(main, Array.prototype.map.call(freshMain.childNodes, function (node) {
          return document.importNode(node, true);
        }));
      }
    } else {
      here.forEach(function (region) {
        var replacement = region.id && fresh.getElementById(region.id);
        if (replacement) { region.replaceWith(document.importNode(replacement, true)); }
      });
    }
    if (fresh.title) { document.title = fresh.title; }
    document.dispatchEvent(new CustomEvent("minicloud:live-updated"));
  }

  function refresh() {
    if (document.querySelector("dialog[open]")) { held = true; return; }  // its form must stay the one posted
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) {
        if (!response.ok || response.redirected) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) { swap(new DOMParser().parseFromString(html, "text/html")); })
      .catch(function () { /* keep what is shown; the next change tries again */ })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  function soon() {  // several changes in a burst (a job and its instance) make one refresh
    if (timer) { window.clearTimeout(timer); }
    timer = window.setTimeout(function () { timer = null; refresh(); }, 150);
  }

  document.addEventListener("close", function (event) {  // "close" does not bubble: listen while it sinks
    if (held && event.target instanceof HTMLDialogElement) { held = false; soon(); }
  }, true);

  // EventSource reconnects by itself after a stream ends (retry:); an answer that is not a stream (503 while
  // the database restarts, say) closes it for good: then open a new one, waiting longer each time.
  var source = null;
  var opened = false;
  var wait = 3000;

  function connect() {
    source = new EventSource("/events");
    source.addEventListener("open", function () {
      if (opened) { soon(); }  // reconnected: something may have changed meanwhile
      opened = true;
      wait = 3000;
    });
    source.addEventListener("change", function (event) {
      var change;
      try { change = JSON.parse(event.data); } catch (e) { return; }
      if (concerns(change)) { soon(); }
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        window.setTimeout(connect, wait);
        wait = Math.min(wait * 2, 60000);
      }
    });
  }
  connect();
  window.addEventListener("pagehide", function () { if (source) { source.close(); } });
}());
