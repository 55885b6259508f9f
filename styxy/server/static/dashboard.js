// The Styxy dashboard: polls the HTTP API with the token from the URL fragment and draws the
// port map, the leases and the audit log. Plain DOM, no framework, no build step; text from the
// server only ever goes in through textContent, never as HTML.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const LEASES_EVERY_MS = 1000;
  const MAP_EVERY_MS = 2000;
  const AUDIT_EVERY_MS = 5000;
  const STORE_KEY = "styxy-token";

  const state = { token: null, generation: 0, leasesKey: null, leases: [] };

  class Refused extends Error {}

  function byId(id) {
    return document.getElementById(id);
  }

  // The token travels in the fragment, which browsers never send to a server or put in a
  // Referer. It is moved to this tab's session storage and taken out of the address bar, so a
  // reload keeps working and a screenshot of the address shows no secret.
  function readToken() {
    const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
    if (fromHash) {
      sessionStorage.setItem(STORE_KEY, fromHash);
      history.replaceState(null, "", location.pathname + location.search);
      return fromHash;
    }
    return sessionStorage.getItem(STORE_KEY);
  }

  async function call(method, path) {
    const response = await fetch(path, {
      method: method,
      headers: { Authorization: "Bearer " + state.token },
      cache: "no-store",
      credentials: "omit",
    });
    let body = null;
    try {
      body = await response.json();
    } catch (ignored) {
      body = null;
    }
    if (response.status === 401) {
      throw new Refused(body && body.error ? body.error : "401");
    }
    if (!response.ok) {
      throw new Error(body && body.error ? body.error : "HTTP " + response.status);
    }
    return body;
  }

  function showProblem(text) {
    const box = byId("problem");
    box.textContent = text;
    box.hidden = !text;
  }

  function setStatus(text, stale) {
    const line = byId("status");
    line.textContent = text;
    line.classList.toggle("stale", Boolean(stale));
  }

  function refused() {
    state.generation += 1; // stops every poll loop
    setStatus("Not connected.", true);
    showProblem(
      "The server refused this page's token (401 Unauthorized). Open the address that " +
        "`styxy serve` printed: it ends in #token=…"
    );
  }

  // One loop per kind of data; a new token (hashchange) starts a new generation of loops.
  function every(ms, work) {
    const generation = state.generation;
    async function tick() {
      if (generation !== state.generation) {
        return;
      }
      try {
        await work();
      } catch (error) {
        if (error instanceof Refused) {
          refused();
          return;
        }
        setStatus("Cannot reach styxy serve (" + error.message + "); retrying…", true);
      }
      if (generation === state.generation) {
        setTimeout(tick, ms);
      }
    }
    tick();
  }

  function start() {
    state.generation += 1;
    state.leasesKey = null;
    state.token = readToken();
    if (!state.token) {
      setStatus("Not connected.", true);
      showProblem(
        "No token: open the address that `styxy serve` printed; it ends in #token=…"
      );
      return;
    }
    showProblem("");
    every(LEASES_EVERY_MS, refreshLeases);
    every(MAP_EVERY_MS, refreshMap);
    every(AUDIT_EVERY_MS, refreshAudit);
  }

  // ---- leases ---------------------------------------------------------------------------

  async function refreshLeases() {
    const body = await call("GET", "/allocations?verbose=1");
    const leases = body.leases;
    const key = JSON.stringify(leases);
    if (key !== state.leasesKey) {
      state.leasesKey = key;
      state.leases = leases;
      drawLeases(leases);
    }
    updateAges();
    byId("lease-count").textContent = "(" + leases.length + ")";
    setStatus("Live · updated " + new Date().toLocaleTimeString(), false);
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (className) {
      td.className = className;
    }
    row.appendChild(td);
    return td;
  }

  function drawLeases(leases) {
    const body = document.querySelector("#leases tbody");
    body.replaceChildren();
    for (const lease of leases) {
      const row = document.createElement("tr");
      row.dataset.lockId = lease.lockId;
      row.dataset.port = String(lease.port);
      cell(row, lease.serviceType, "type");
      cell(row, lease.port, "port");
      cell(row, lease.instanceId, "instance");
      cell(row, lease.name, "name");
      cell(row, lease.process ? lease.pid + " (" + lease.process + ")" : lease.pid, "holder");
      cell(row, lease.command, "command");
      const age = cell(row, "", "age");
      age.dataset.createdAt = lease.createdAt;
      cell(row, lease.alive ? "yes" : "no", "alive " + (lease.alive ? "yes" : "no"));
      const action = cell(row, "", "action");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "release";
      button.textContent = "Release";
      button.dataset.lockId = lease.lockId;
      button.setAttribute("aria-label", "Release port " + lease.port);
      action.appendChild(button);
      body.appendChild(row);
    }
    byId("no-leases").hidden = leases.length > 0;
  }

  function updateAges() {
    const now = Date.now();
    for (const td of document.querySelectorAll("#leases td.age")) {
      td.textContent = formatAge((now - Date.parse(td.dataset.createdAt)) / 1000);
    }
  }

  function formatAge(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) {
      return s + "s";
    }
    if (s < 3600) {
      return Math.floor(s / 60) + "m " + (s % 60) + "s";
    }
    if (s < 86400) {
      return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
    }
    return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
  }

  async function release(button) {
    button.disabled = true;
    try {
      await call("DELETE", "/allocate/" + encodeURIComponent(button.dataset.lockId));
      showProblem("");
    } catch (error) {
      if (error instanceof Refused) {
        refused();
        return;
      }
      showProblem("Release failed: " + error.message);
    }
    state.leasesKey = null;
    await refreshLeases().catch(function () {});
    await refreshMap().catch(function () {});
  }

  // ---- the port map ---------------------------------------------------------------------

  async function refreshMap() {
    const body = await call("GET", "/ranges");
    drawMap(body.ranges);
  }

  function svg(name, attributes, parent) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) {
      element.setAttribute(key, String(value));
    }
    if (parent) {
      parent.appendChild(element);
    }
    return element;
  }

  function titled(element, text) {
    svg("title", {}, element).textContent = text;
    return element;
  }

  function drawMap(ranges) {
    const width = 1000;
    const left = 200;
    const plot = width - left - 16;
    const rowHeight = 18;
    const top = 78;
    const height = top + ranges.length * rowHeight + 8;
    const root = svg("svg", {
      viewBox: "0 0 " + width + " " + height,
      role: "img",
      "aria-label": "Port map: " + ranges.length + " ranges",
    });
    if (ranges.length === 0) {
      svg("text", { x: 8, y: 24 }, root).textContent = "The document has no ranges.";
      byId("map").replaceChildren(root);
      return;
    }
    const lo = Math.min(...ranges.map((r) => r.start));
    const hi = Math.max(...ranges.map((r) => r.end));
    const span = Math.max(1, hi - lo);
    const x = (port) => left + ((port - lo) / span) * plot;

    // The overview: every range on one port axis.
    svg("text", { x: 0, y: 30 }, root).textContent = "ports " + lo + "–" + hi;
    svg("line", { x1: left, x2: left + plot, y1: 44, y2: 44, class: "axis" }, root);
    for (const r of ranges) {
      const band = svg(
        "rect",
        {
          x: x(r.start),
          y: 24,
          width: Math.max(2, x(r.end + 1) - x(r.start)),
          height: 16,
          class: "band" + (r.instances === "single" ? " single" : ""),
        },
        root
      );
      titled(band, r.serviceType + " " + r.start + "–" + r.end);
    }
    for (let i = 0; i <= 5; i += 1) {
      const port = Math.round(lo + (span * i) / 5);
      svg("line", { x1: x(port), x2: x(port), y1: 44, y2: 48, class: "axis" }, root);
      svg("text", { x: x(port), y: 60, class: "tick", "text-anchor": "middle" }, root)
        .textContent = String(port);
    }

    // One row per range: each port a cell, coloured by what occupies it.
    ranges.forEach(function (r, index) {
      const y = top + index * rowHeight;
      const size = r.end - r.start + 1;
      // At most 8 px a port, so a row's length tells the range's size at a glance.
      const cellWidth = Math.min(8, plot / size);
      const row = svg("g", { class: "row", "data-service-type": r.serviceType }, root);
      svg("text", { x: 0, y: y + 12 }, row).textContent =
        r.serviceType + "  " + r.start + "–" + r.end;
      if (r.instances === "single") {
        svg("rect", { x: left - 46, y: y + 2, width: 40, height: 12, rx: 2, class: "single-mark" }, row);
        svg("text", { x: left - 26, y: y + 11, class: "single-label", "text-anchor": "middle" }, row)
          .textContent = "single";
      }
      titled(
        svg("rect", { x: left, y: y + 1, width: cellWidth * size, height: rowHeight - 4, class: "free" }, row),
        r.serviceType + ": " + r.free + " of " + size + " ports free"
      );
      const leased = new Set(r.leasedPorts);
      const listening = new Set(r.listeningPorts);
      for (const port of new Set([...leased, ...listening])) {
        const kind = leased.has(port) ? (listening.has(port) ? "running" : "leased") : "listening";
        const words = { running: "leased, listening", leased: "leased", listening: "listening, no lease" };
        titled(
          svg(
            "rect",
            {
              x: left + (port - r.start) * cellWidth,
              y: y + 1,
              width: Math.max(2, cellWidth - 0.5),
              height: rowHeight - 4,
              class: kind,
              "data-port": port,
            },
            row
          ),
          "port " + port + ": " + words[kind]
        );
      }
    });
    byId("map").replaceChildren(root);
  }

  // ---- the audit log ----------------------------------------------------------------------

  async function refreshAudit() {
    const body = await call("GET", "/audit");
    const list = byId("audit");
    list.replaceChildren();
    for (const line of body.audit.slice().reverse()) {
      const item = document.createElement("li");
      item.textContent = line;
      list.appendChild(item);
    }
    byId("no-audit").hidden = body.audit.length > 0;
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button.release");
    if (button && !button.disabled) {
      release(button);
    }
  });
  window.addEventListener("hashchange", start);
  start();
})();
