// weir dashboard: theme toggle, pause countdowns, and live re-rendering of <main> when the
// server-sent events of /ui/events report a change of a kind the page shows.
(function () {
  "use strict";
  var root = document.documentElement;
  var saved = null;
  try { saved = localStorage.getItem("weir-theme"); } catch (e) { /* storage off */ }
  if (saved === "dark" || saved === "light") root.dataset.theme = saved;

  function currentTheme() {
    if (root.dataset.theme) return root.dataset.theme;
    return window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function tickCountdowns() {
    var now = Date.now() / 1000;
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = Math.max(0, Math.round(Number(el.dataset.countdown) - now));
      var m = Math.floor(left / 60), s = left % 60;
      el.textContent = left > 0 ? "paused: " + (m > 0 ? m + "m" : "") + s + "s left" : "pause over";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.getElementById("theme");
    if (toggle) toggle.addEventListener("click", function () {
      var next = currentTheme() === "dark" ? "light" : "dark";
      root.dataset.theme = next;
      try { localStorage.setItem("weir-theme", next); } catch (e) { /* storage off */ }
    });
    tickCountdowns();
    setInterval(tickCountdowns, 1000);

    var main = document.getElementById("main");
    var live = document.getElementById("live");
    if (!main || !main.dataset.watch || !window.EventSource) return;
    var kinds = main.dataset.watch.split(",");
    var pending = null, running = false, again = false, lastRender = 0, opened = false;

    function render() {
      pending = null;
      if (running) { again = true; return; }
      running = true;
      lastRender = Date.now();
      fetch(location.href, { headers: { "X-Weir-Fragment": "1" }, credentials: "same-origin" })
        .then(function (r) {
          if (r.status === 401) { location.href = "/ui/login"; return null; }
          return r.text();
        })
        .then(function (html) {
          if (html === null) return;
          var open = {};
          main.querySelectorAll("details[id]").forEach(function (d) { open[d.id] = d.open; });
          main.innerHTML = html;
          Object.keys(open).forEach(function (id) { var d = document.getElementById(id); if (d) d.open = open[id]; });
          main.dataset.rendered = String(Number(main.dataset.rendered || 0) + 1);
          tickCountdowns();
        })
        .catch(function () { /* the next event retries */ })
        .then(function () { running = false; if (again) { again = false; schedule(); } });
    }

    function schedule() {
      if (pending) return;
      // At most one re-render a second; a burst of events folds into one.
      var wait = Math.max(150, 1000 - (Date.now() - lastRender));
      pending = setTimeout(render, wait);
    }

    var events = new EventSource("/ui/events");
    events.addEventListener("open", function () {
      if (live) live.classList.add("on");
      if (opened) schedule(); // reconnected: changes may have been missed
      opened = true;
    });
    events.addEventListener("error", function () { if (live) live.classList.remove("on"); });
    events.addEventListener("change", function (e) {
      var change;
      try { change = JSON.parse(e.data); } catch (err) { return; }
      if (kinds.indexOf(change.kind) >= 0) schedule();
    });
  });
})();
