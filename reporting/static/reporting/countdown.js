// The dashboard's next-update countdowns: every <time data-countdown="ISO"> ticks each second.
(function () {
  "use strict";
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-countdown"));
      if (isNaN(due)) { return; }
      var seconds = Math.round((due - now) / 1000);
      var abs = Math.abs(seconds);
      var text = Math.floor(abs / 60) + "m " + pad(abs % 60) + "s";
      el.textContent = seconds < 0 ? "overdue by " + text : "in " + text;
      el.classList.toggle("dashboard-overdue", seconds < 0);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); setInterval(tick, 1000); });
})();
