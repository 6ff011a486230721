/* minicloud console: every <time datetime="…"> shown in the browser's own time zone.
   The server writes each time in KST (Korean pages) or UTC (English pages) as the fallback text;
   this rewrites it to the same shape in the local zone ("2026-12-02 16:05 KST", "… UTC-5"),
   with the exact moment and the zone's name on hover. Progressive enhancement only. */
(function () {
  "use strict";

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function zoneLabel(date, zoneName) {
    if (zoneName === "Asia/Seoul") { return "KST"; }
    var offset = -date.getTimezoneOffset();
    if (offset === 0) { return "UTC"; }
    var sign = offset > 0 ? "+" : "-";
    offset = Math.abs(offset);
    var hours = Math.floor(offset / 60), minutes = offset % 60;
    return "UTC" + sign + hours + (minutes ? ":" + pad(minutes) : "");
  }

  function localize(element, zoneName) {
    var date = new Date(element.getAttribute("datetime"));
    if (isNaN(date.getTime())) { return; }
    var day = date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate());
    var text = day + " " + pad(date.getHours()) + ":" + pad(date.getMinutes());
    if (element.hasAttribute("data-seconds")) { text += ":" + pad(date.getSeconds()); }
    element.textContent = element.hasAttribute("data-date-only") ? day : text + " " + zoneLabel(date, zoneName);
    element.title = element.getAttribute("datetime") + (zoneName ? " · " + zoneName : "");
    element.setAttribute("data-local", "1");
  }

  function localizeAll(root) {
    var zoneName = "";
    try { zoneName = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zoneName = ""; }
    var times = (root || document).querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) { localize(times[i], zoneName); }
  }

  window.minicloudLocalTimes = localizeAll;  // for parts of a page that arrive later
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { localizeAll(document); });
  } else {
    localizeAll(document);
  }
})();
