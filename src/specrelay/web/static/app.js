// specrelay dashboard: keep the page live (server-sent events), tick ages, confirm a discard.
(function () {
  "use strict";
  const loaded = Date.now() / 1000;

  function fmtAge(s) {
    s = Math.max(0, Math.floor(s));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + String(s % 60).padStart(2, "0");
    if (s < 86400) return Math.floor(s / 3600) + " h " + String(Math.floor(s % 3600 / 60)).padStart(2, "0");
    return Math.floor(s / 86400) + " d " + Math.floor(s % 86400 / 3600) + " h";
  }

  function stampAges(root) {
    const now = Date.now() / 1000;
    root.querySelectorAll("[data-age]").forEach(function (el) {
      if (!el.dataset.born) el.dataset.born = String(now - Number(el.dataset.age));
    });
  }

  function tickAges() {
    const now = Date.now() / 1000;
    document.querySelectorAll("[data-born]").forEach(function (el) {
      el.textContent = fmtAge(now - Number(el.dataset.born));
    });
  }

  function fromHTML(html) {
    const t = document.createElement("template");
    t.innerHTML = html.trim();
    return t.content.firstElementChild;
  }

  function replaceTask(data) {
    const row = fromHTML(data.html);
    stampAges(row);
    const old = document.getElementById("task-" + data.id);
    const body = document.getElementById("task-rows");
    if (old) {
      old.replaceWith(row);
    } else if (body) {
      body.prepend(row);
      body.closest("table").hidden = false;
      const empty = document.getElementById("no-tasks");
      if (empty) empty.remove();
    }
    row.classList.add("flash-row");
  }

  function replaceFragments(data) {
    Object.keys(data).forEach(function (id) {
      const old = document.getElementById(id);
      if (!old) return;
      const fresh = fromHTML(data[id]);
      stampAges(fresh);
      old.replaceWith(fresh);
    });
  }

  function appendLog(data) {
    const list = document.getElementById("events");
    if (!list) return;
    list.appendChild(fromHTML(data.html));
    const empty = document.getElementById("no-events");
    if (empty) empty.remove();
  }

  function connect(url) {
    const dot = document.getElementById("live-dot");
    const source = new EventSource(url);
    source.onopen = function () { if (dot) { dot.className = "live-dot on"; dot.title = "live"; } };
    source.onerror = function () { if (dot) { dot.className = "live-dot off"; dot.title = "reconnecting…"; } };
    source.addEventListener("task", function (e) { replaceTask(JSON.parse(e.data)); });
    source.addEventListener("fragments", function (e) { replaceFragments(JSON.parse(e.data)); });
    source.addEventListener("log", function (e) { appendLog(JSON.parse(e.data)); });
    window.specrelayLive = source;
  }

  document.addEventListener("submit", function (e) {
    const form = e.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) e.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", function () {
    stampAges(document);
    setInterval(tickAges, 1000);
    const url = document.body.dataset.live;
    if (url && window.EventSource) connect(url);
    window.specrelayLoadedAt = loaded;
  });
})();
