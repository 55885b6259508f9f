// The Styxy dashboard: polls the HTTP API with the token from the URL fragment and draws the
// port map, the leases and the audit log. Plain DOM, no framework, no build step; text from the
// server only ever goes in through textContent, never as HTML.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const LEASES_EVERY_MS = 1000;
  const MAP_EVERY_MS = 2000;
  const AUDIT_EVERY_MS = 5000;
  const ABOUT_EVERY_MS = 30000;
  // A request that takes longer counts as a failure: a hung server must turn the page stale
  // as surely as a stopped one (SPEC section 20 wants it said within 3 s).
  const REQUEST_TIMEOUT_MS = 1500;
  const STORE_KEY = "styxy-token";
  const WORDS = {
    running: "leased and listening",
    leased: "leased, nothing listening",
    listening: "listening without lease",
  };

  const state = {
    token: null,
    generation: 0,
    leases: [],
    ranges: [],
    listeners: [],
    leasesKey: null,
    mapKey: null,
    filter: "",
    lastLive: null,
    stale: false,
    refused: false,
    shownFor: null,
  };

  class Refused extends Error {}

  function byId(id) {
    return document.getElementById(id);
  }

  function element(name, className, text) {
    const made = document.createElement(name);
    if (className) {
      made.className = className;
    }
    if (text !== undefined && text !== null) {
      made.textContent = String(text);
    }
    return made;
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
    const abort = new AbortController();
    const timer = setTimeout(function () {
      abort.abort();
    }, REQUEST_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(path, {
        method: method,
        headers: { Authorization: "Bearer " + state.token },
        cache: "no-store",
        credentials: "omit",
        signal: abort.signal,
      });
    } catch (error) {
      throw new Error(abort.signal.aborted ? "no answer within 1.5 s" : "no connection");
    } finally {
      clearTimeout(timer);
    }
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
      const failed = new Error(body && body.error ? body.error : "HTTP " + response.status);
      failed.status = response.status;
      throw failed;
    }
    return body;
  }

  function showProblem(text) {
    const box = byId("problem");
    box.textContent = text;
    box.hidden = !text;
  }

  function notice(text) {
    const line = byId("notice");
    line.textContent = text;
    line.hidden = !text;
  }

  function setStatus(text, stale) {
    const line = byId("status");
    line.textContent = text;
    line.classList.toggle("stale", Boolean(stale));
  }

  function clock(date) {
    return date ? date.toLocaleTimeString() : "never";
  }

  // What is drawn stays on screen, but greyed and covered by a banner that says it is not live
  // and since when, and nothing on it can be acted on.
  function markStale(reason) {
    state.stale = true;
    document.body.classList.add("is-stale");
    byId("live").setAttribute("aria-busy", "true");
    const banner = byId("stale");
    banner.textContent =
      "Not live: " + reason + " What you see is the picture of " + clock(state.lastLive) + ".";
    banner.hidden = false;
    for (const button of document.querySelectorAll("button.release")) {
      button.disabled = true;
    }
    hideDetails();
  }

  function markLive() {
    state.lastLive = new Date();
    setStatus("Live · updated " + clock(state.lastLive), false);
    if (!state.stale) {
      return;
    }
    state.stale = false;
    document.body.classList.remove("is-stale");
    byId("live").removeAttribute("aria-busy");
    byId("stale").hidden = true;
    for (const button of document.querySelectorAll("button.release")) {
      button.disabled = false;
    }
  }

  function refused() {
    state.generation += 1; // stops every poll loop
    state.refused = true;
    setStatus("Not connected.", true);
    showProblem(
      "The server refused this page's token (401 Unauthorized). Open the address that " +
        "`styxy serve` printed: it ends in #token=…"
    );
    markStale("the server refused this page's token.");
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
        if (generation === state.generation) {
          setStatus("Cannot reach styxy serve (" + error.message + "); retrying…", true);
          markStale("styxy serve does not answer (" + error.message + ").");
        }
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
    state.mapKey = null;
    state.refused = false;
    state.token = readToken();
    if (!state.token) {
      setStatus("Not connected.", true);
      showProblem("No token: open the address that `styxy serve` printed; it ends in #token=…");
      return;
    }
    showProblem("");
    every(LEASES_EVERY_MS, refreshLeases);
    every(MAP_EVERY_MS, refreshMap);
    every(AUDIT_EVERY_MS, refreshAudit);
    every(ABOUT_EVERY_MS, refreshAbout);
  }

  // ---- what the page shows: the document and the IANA data ----------------------------------

  async function refreshAbout() {
    const body = await call("GET", "/about");
    byId("about-document").textContent = body.document;
    const iana = body.iana;
    // The registry's date when the data has one (the description of IANA's own data names it
    // already); /etc/services has none, and says so.
    byId("about-iana").textContent = !iana.updated
      ? iana.description + " (no date)"
      : iana.description.includes(iana.updated)
        ? iana.description
        : iana.updated + " (" + iana.description + ")";
  }

  // ---- the filter -----------------------------------------------------------------------------

  function query() {
    return state.filter.trim().toLowerCase();
  }

  // A number matches the ports that start with it, so typing 3, 30, 300, 3004 narrows step by
  // step to port 3004.
  function portMatches(port, q) {
    return /^\d+$/.test(q) && String(port).startsWith(q);
  }

  function rangeHasPortStarting(range, q) {
    if (!/^\d+$/.test(q) || q.length > 5) {
      return false;
    }
    const base = Number(q);
    for (let scale = 1; base * scale <= 65535; scale *= 10) {
      const lo = base * scale;
      const hi = (base + 1) * scale - 1;
      if (lo <= range.end && hi >= range.start) {
        return true;
      }
      if (base === 0) {
        break;
      }
    }
    return false;
  }

  function leaseMatches(lease, q) {
    if (!q) {
      return true;
    }
    return (
      lease.serviceType.toLowerCase().includes(q) ||
      lease.instanceId.toLowerCase().includes(q) ||
      (lease.name || "").toLowerCase().includes(q) ||
      portMatches(lease.port, q)
    );
  }

  function rangeMatches(range, q) {
    if (!q) {
      return true;
    }
    return (
      range.serviceType.toLowerCase().includes(q) ||
      rangeHasPortStarting(range, q) ||
      leasesIn(range).some(function (lease) {
        return leaseMatches(lease, q);
      })
    );
  }

  function leasesIn(range) {
    return state.leases.filter(function (lease) {
      return lease.port >= range.start && lease.port <= range.end;
    });
  }

  function applyFilter() {
    const q = query();
    let shownRanges = 0;
    for (const item of document.querySelectorAll("#ranges > li")) {
      const range = state.ranges[Number(item.dataset.index)];
      const shown = rangeMatches(range, q);
      item.hidden = !shown;
      shownRanges += shown ? 1 : 0;
      // Inside a range found by its name every port stays; otherwise only the matching ones.
      const whole = !q || range.serviceType.toLowerCase().includes(q);
      for (const chip of item.querySelectorAll(".port")) {
        const port = Number(chip.dataset.port);
        const lease = leaseAt(port);
        chip.parentElement.hidden =
          !whole && !(lease ? leaseMatches(lease, q) : portMatches(port, q));
      }
    }
    for (const band of document.querySelectorAll("#overview .band")) {
      band.classList.toggle("dimmed", !rangeMatches(state.ranges[Number(band.dataset.index)], q));
    }
    let shownLeases = 0;
    for (const row of document.querySelectorAll("#leases tbody tr")) {
      const lease = state.leases.find(function (x) {
        return x.lockId === row.dataset.lockId;
      });
      const shown = Boolean(lease) && leaseMatches(lease, q);
      row.hidden = !shown;
      shownLeases += shown ? 1 : 0;
    }
    byId("range-count").textContent = q
      ? "(" + shownRanges + " of " + state.ranges.length + ")"
      : "(" + state.ranges.length + ")";
    byId("lease-count").textContent = q
      ? "(" + shownLeases + " of " + state.leases.length + ")"
      : "(" + state.leases.length + ")";
    byId("filter-result").textContent = q
      ? shownRanges + " ranges, " + shownLeases + " leases match"
      : "";
    const none = byId("no-ranges");
    none.hidden = shownRanges > 0 || state.ranges.length === 0;
    none.textContent = q ? "No range matches “" + state.filter.trim() + "”." : "";
    byId("no-leases").hidden = shownLeases > 0;
    byId("no-leases").textContent = q && state.leases.length ? "No lease matches." : "No leases.";
  }

  // ---- leases -------------------------------------------------------------------------------

  async function refreshLeases() {
    const body = await call("GET", "/allocations?verbose=1");
    const leases = body.leases;
    const key = JSON.stringify(leases);
    if (key !== state.leasesKey) {
      state.leasesKey = key;
      state.leases = leases;
      drawLeases(leases);
      drawRanges();
    }
    updateAges();
    markLive();
  }

  function cell(row, label, text, className) {
    const td = element("td", className, text === null || text === undefined ? "" : text);
    // The column's name, shown beside the value where a narrow screen stacks the cells.
    td.dataset.label = label;
    row.appendChild(td);
    return td;
  }

  function holderText(pid, process) {
    if (pid === null || pid === undefined) {
      return "unknown";
    }
    return process ? pid + " (" + process + ")" : String(pid);
  }

  function drawLeases(leases) {
    const body = document.querySelector("#leases tbody");
    const focused = document.activeElement;
    const refocus = focused && focused.matches("button.release") ? focused.dataset.lockId : null;
    body.replaceChildren();
    for (const lease of leases) {
      const row = element("tr");
      row.dataset.lockId = lease.lockId;
      row.dataset.port = String(lease.port);
      cell(row, "Type", lease.serviceType, "type");
      cell(row, "Port", lease.port, "port");
      cell(row, "Instance", lease.instanceId, "instance");
      // One child, the name and its URL: a narrow screen lays the cell out as label | value.
      const name = element("span", "", lease.name);
      cell(row, "Name", "", "name").appendChild(name);
      if (lease.url) {
        // The name behind `styxy proxy` (SPEC 22); without a proxy running, the address it
        // will have once one runs, said so on hover.
        const link = element("a", lease.proxied ? "url" : "url unproxied");
        link.append(...urlParts(lease.url));
        link.href = lease.url;
        if (!lease.proxied) {
          link.title = "no styxy proxy runs; this name answers once one does (styxy proxy)";
        }
        name.appendChild(document.createElement("br"));
        name.appendChild(link);
      }
      cell(row, "Holder", holderText(lease.pid, lease.process), "holder");
      cell(row, "Command", lease.command, "command");
      const age = cell(row, "Age", "", "age");
      age.dataset.createdAt = lease.createdAt;
      cell(row, "Alive", lease.alive ? "yes" : "no", "alive " + (lease.alive ? "yes" : "no"));
      const action = cell(row, "", "", "action");
      if (lease.thisServer) {
        // The lease of the server showing this page: releasing it would end the lease of the
        // very server answering, so the server refuses it and the page does not offer it.
        row.classList.add("this-server");
        const mark = element("span", "this-server", "this server");
        mark.title = "The styxy serve showing this page holds this lease; it ends when the server stops.";
        action.appendChild(mark);
      } else {
        const button = element("button", "release", "Release");
        button.type = "button";
        button.dataset.lockId = lease.lockId;
        button.disabled = state.stale;
        button.setAttribute("aria-label", "Release port " + lease.port);
        action.appendChild(button);
      }
      body.appendChild(row);
    }
    if (refocus) {
      const again = body.querySelector("button.release[data-lock-id='" + CSS.escape(refocus) + "']");
      if (again) {
        again.focus();
      }
    }
    applyFilter();
  }

  // A URL in parts that wrap only between them: after the scheme's "//", before each "." of
  // the host and each "/" of the path, as the Chicago Manual of Style breaks URLs. The last
  // label of the host, its port and a path of "/" are one part that never breaks, so a port is
  // never split across lines nor parted from its host. Each part is an inline block: it moves
  // to the next line whole, and only a part longer than a whole line (a 63-letter name) wraps
  // inside itself. The link's text stays the URL, character for character, for copying and
  // for screen readers.
  function urlParts(url) {
    const found = /^([a-z][a-z0-9+.-]*:\/\/)([^/:?#]+)(:\d+)?(.*)$/i.exec(url);
    if (!found) {
      return [document.createTextNode(url)];
    }
    const [, scheme, host, port, rest] = found;
    const labels = host.split(".").map(function (label, index) {
      return index === 0 ? label : "." + label;
    });
    const path = rest.split(/(?=\/)/).filter(Boolean);
    const pieces = [scheme, ...labels.slice(0, -1)];
    let last = labels[labels.length - 1] + (port || "");
    // A lone "/" stays on the line of what it follows.
    while (path.length && path[0] === "/") {
      last += path.shift();
    }
    pieces.push(last);
    const hostPort = pieces.length - 1;
    for (const piece of path) {
      if (piece === "/" && pieces.length) {
        pieces[pieces.length - 1] += piece;
      } else {
        pieces.push(piece);
      }
    }
    const parts = [];
    pieces.forEach(function (piece, index) {
      if (index > 0) {
        parts.push(document.createElement("wbr"));
      }
      parts.push(element("span", index === hostPort ? "url-part host-port" : "url-part", piece));
    });
    return parts;
  }

  function updateAges() {
    const now = Date.now();
    for (const td of document.querySelectorAll("#leases td.age")) {
      td.textContent = formatAge((now - Date.parse(td.dataset.createdAt)) / 1000);
    }
    if (state.shownFor) {
      fillDetails(state.shownFor);
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

  function describeLease(lease) {
    const who = [lease.serviceType, "instance " + lease.instanceId];
    if (lease.name) {
      who.push("name " + lease.name);
    }
    return "port " + lease.port + " (" + who.join(", ") + "), held by " +
      holderText(lease.pid, lease.process);
  }

  // Release asks first, in a real modal dialog; Escape or Cancel ends nothing.
  function askRelease(button) {
    const lease = state.leases.find(function (x) {
      return x.lockId === button.dataset.lockId;
    });
    if (!lease || state.stale) {
      return;
    }
    const dialog = byId("confirm");
    byId("confirm-text").textContent = "Release " + describeLease(lease) + "?";
    dialog.returnValue = "";
    dialog.dataset.lockId = lease.lockId;
    dialog.showModal();
  }

  async function release(lease) {
    try {
      const ended = await call("DELETE", "/allocate/" + encodeURIComponent(lease.lockId));
      showProblem("");
      notice("Released " + describeLease(ended) + " (lock " + ended.lockId + ").");
    } catch (error) {
      if (error instanceof Refused) {
        refused();
        return;
      }
      if (error.status === 404) {
        notice("Nothing to release: the lease of port " + lease.port + " had already ended.");
      } else {
        showProblem("Release failed: " + error.message);
      }
    }
    state.leasesKey = null;
    state.mapKey = null;
    await refreshLeases().catch(function () {});
    await refreshMap().catch(function () {});
  }

  // ---- the port map ---------------------------------------------------------------------------

  async function refreshMap() {
    const body = await call("GET", "/ranges");
    const key = JSON.stringify(body);
    if (key !== state.mapKey) {
      state.mapKey = key;
      state.ranges = body.ranges;
      state.listeners = body.listeners || [];
      drawOverview();
      drawRanges();
    }
    markLive();
  }

  function leaseAt(port) {
    return state.leases.find(function (x) {
      return x.port === port;
    });
  }

  function listenerAt(port) {
    return state.listeners.find(function (x) {
      return x.port === port;
    });
  }

  // The occupied ports of a range, each with what occupies it.
  function occupied(range) {
    const leased = new Set(range.leasedPorts);
    const listening = new Set(range.listeningPorts);
    const ports = Array.from(new Set([...leased, ...listening])).sort(function (a, b) {
      return a - b;
    });
    return ports.map(function (port) {
      const kind = leased.has(port) ? (listening.has(port) ? "running" : "leased") : "listening";
      return { port: port, kind: kind };
    });
  }

  function counts(range) {
    const leased = new Set(range.leasedPorts);
    const unleased = range.listeningPorts.filter(function (port) {
      return !leased.has(port);
    });
    return { leased: leased.size, listening: unleased.length, free: range.free };
  }

  // Round axis values: the step is 1, 2 or 5 times a power of ten, chosen so that about
  // `wanted` labels fit, and labels sit on multiples of it (3000, 3020, ... not 3007).
  function niceStep(span, wanted) {
    const rough = Math.max(1, span / wanted);
    const power = Math.pow(10, Math.floor(Math.log10(rough)));
    for (const factor of [1, 2, 5, 10]) {
      if (factor * power >= rough) {
        return factor * power;
      }
    }
    return 10 * power;
  }

  function ticks(lo, hi, wanted) {
    const step = niceStep(hi - lo, wanted);
    const found = [];
    for (let value = Math.ceil(lo / step) * step; value <= hi; value += step) {
      found.push(value);
    }
    return found;
  }

  function percent(range, port) {
    return ((port - range.start) / (range.end - range.start + 1)) * 100 + "%";
  }

  function drawRanges() {
    const list = byId("ranges");
    const focused = document.activeElement;
    const refocus = focused && focused.matches(".port") ? focused.dataset.port : null;
    const items = state.ranges.map(function (range, index) {
      return drawRange(range, index);
    });
    list.replaceChildren(...items);
    if (refocus) {
      const again = list.querySelector(".port[data-port='" + refocus + "']");
      if (again) {
        again.focus();
      }
    }
    if (state.shownFor && !listOwns(state.shownFor.port)) {
      hideDetails();
    }
    applyFilter();
  }

  function listOwns(port) {
    return Boolean(byId("ranges").querySelector(".port[data-port='" + port + "']"));
  }

  function drawRange(range, index) {
    const item = element("li", "range" + (range.instances === "single" ? " single" : ""));
    item.dataset.index = String(index);
    item.dataset.serviceType = range.serviceType;
    const head = element("div", "range-head");
    const title = element("h3", "range-name", range.serviceType);
    head.appendChild(title);
    if (range.instances === "single") {
      head.appendChild(element("span", "badge", "single"));
    }
    head.appendChild(element("span", "span", range.start + "–" + range.end));
    const n = counts(range);
    const tally = element("p", "counts");
    tally.append(
      element("span", "n-leased", n.leased + " leased"),
      element("span", "sep", "\u00a0· "),
      element("span", "n-listening", n.listening + " listening without lease"),
      element("span", "sep", "\u00a0· "),
      element("span", "n-free", n.free + " free")
    );
    head.appendChild(tally);
    item.appendChild(head);

    const ports = occupied(range);
    item.appendChild(drawStrip(range, ports));

    const chips = element("ul", "ports");
    chips.setAttribute("aria-label", "Occupied ports of " + range.serviceType);
    for (const entry of ports) {
      const li = element("li");
      const chip = element("button", "port " + entry.kind);
      chip.type = "button";
      chip.dataset.port = String(entry.port);
      const lease = leaseAt(entry.port);
      const listener = listenerAt(entry.port);
      chip.append(element("span", "num", entry.port));
      const who = lease
        ? lease.instanceId + (lease.name ? " · " + lease.name : "")
        : listener && listener.process
          ? listener.process
          : "no lease";
      chip.append(element("span", "who", who));
      chip.setAttribute("aria-describedby", "details");
      li.appendChild(chip);
      chips.appendChild(li);
    }
    // An idle range is its counts alone: a phone scrolls past seventeen ranges, not past
    // seventeen "nothing here" lines.
    chips.hidden = ports.length === 0;
    item.appendChild(chips);
    return item;
  }

  // The picture of one range: every port a slice of the bar, occupied ones coloured, with the
  // port numbers of round values under it. Mouse-only (the chips below are the keyboard's
  // way), so it is hidden from assistive technology; a narrow screen hides it altogether.
  function drawStrip(range, ports) {
    const strip = element("div", "strip");
    strip.setAttribute("aria-hidden", "true");
    const bar = element("div", "bar");
    const size = range.end - range.start + 1;
    for (const entry of ports) {
      const mark = element("span", "mark " + entry.kind);
      mark.dataset.port = String(entry.port);
      mark.style.left = percent(range, entry.port);
      mark.style.width = 100 / size + "%";
      bar.appendChild(mark);
    }
    strip.appendChild(bar);
    const axis = element("div", "axis");
    for (const value of ticks(range.start, range.end, size > 40 ? 8 : 4)) {
      const tick = element("span", "tick", value);
      tick.style.left = percent(range, value);
      axis.appendChild(tick);
    }
    strip.appendChild(axis);
    return strip;
  }

  // Every range on one port axis: where the ranges lie against each other (wide screens only).
  function drawOverview() {
    const ranges = state.ranges;
    const box = byId("overview");
    if (ranges.length === 0) {
      box.replaceChildren();
      return;
    }
    // Drawn at the box's own width, so its labels keep their size at every window width.
    const width = Math.max(300, Math.round(box.clientWidth) || 1000);
    const pad = 24;
    const plot = width - 2 * pad;
    const lo = Math.min(...ranges.map((r) => r.start));
    const hi = Math.max(...ranges.map((r) => r.end));
    const step = niceStep(hi - lo, Math.max(3, Math.floor(width / 110)));
    const from = Math.floor(lo / step) * step;
    const to = Math.ceil((hi + 1) / step) * step;
    const x = (port) => pad + ((port - from) / (to - from)) * plot;
    const root = svg("svg", { viewBox: "0 0 " + width + " 56", focusable: "false" });
    ranges.forEach(function (r, index) {
      const band = svg(
        "rect",
        {
          x: x(r.start),
          y: 6,
          width: Math.max(3, x(r.end + 1) - x(r.start)),
          height: 20,
          class: "band" + (r.instances === "single" ? " single" : ""),
          "data-index": index,
        },
        root
      );
      svg("title", {}, band).textContent = r.serviceType + " " + r.start + "–" + r.end;
    });
    svg("line", { x1: pad, x2: pad + plot, y1: 30, y2: 30, class: "axis-line" }, root);
    for (let value = from; value <= to; value += step) {
      svg("line", { x1: x(value), x2: x(value), y1: 30, y2: 35, class: "axis-line" }, root);
      svg("text", { x: x(value), y: 50, class: "ov-tick", "text-anchor": "middle" }, root)
        .textContent = String(value);
    }
    box.replaceChildren(root);
  }

  function svg(name, attributes, parent) {
    const made = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) {
      made.setAttribute(key, String(value));
    }
    if (parent) {
      parent.appendChild(made);
    }
    return made;
  }

  // ---- a port's details, on hover or keyboard focus -------------------------------------------

  function detailRows(port) {
    const lease = leaseAt(port);
    const listener = listenerAt(port);
    const range = state.ranges.find(function (r) {
      return port >= r.start && port <= r.end;
    });
    const listening = range ? range.listeningPorts.includes(port) : false;
    const rows = [];
    if (lease) {
      rows.push(["State", listening ? WORDS.running : WORDS.leased]);
      rows.push(["Holder", holderText(lease.pid, lease.process)]);
      rows.push(["Command", lease.command || "unknown"]);
      rows.push(["Age", formatAge((Date.now() - Date.parse(lease.createdAt)) / 1000)]);
      rows.push(["Instance", lease.instanceId]);
      if (lease.name) {
        rows.push(["Name", lease.name]);
      }
      rows.push(["Lock", lease.lockId]);
    } else {
      rows.push(["State", WORDS.listening]);
      rows.push(["Holder", listener ? holderText(listener.pid, listener.process) : "unknown"]);
      rows.push(["Command", (listener && listener.command) || "unknown"]);
      rows.push([
        "Age",
        listener && listener.startedAt
          ? formatAge((Date.now() - Date.parse(listener.startedAt)) / 1000) + " (the process)"
          : "unknown",
      ]);
    }
    return rows;
  }

  function fillDetails(target) {
    const box = byId("details");
    const port = Number(target.port);
    const heading = element("p", "details-title", "Port " + port);
    const list = element("dl");
    for (const [term, value] of detailRows(port)) {
      list.append(element("dt", null, term), element("dd", null, value));
    }
    box.replaceChildren(heading, list);
  }

  function showDetails(anchor) {
    if (state.stale) {
      return;
    }
    const box = byId("details");
    state.shownFor = { port: anchor.dataset.port, anchor: anchor };
    fillDetails(state.shownFor);
    box.hidden = false;
    place(box, anchor.getBoundingClientRect());
  }

  // Beside the port, kept inside the window (a phone's too), below it unless there is no room.
  function place(box, rect) {
    const margin = 8;
    const width = box.offsetWidth;
    const height = box.offsetHeight;
    let left = Math.min(rect.left, window.innerWidth - width - margin);
    left = Math.max(margin, left);
    let top = rect.bottom + 6;
    if (top + height > window.innerHeight - margin && rect.top - height - 6 > margin) {
      top = rect.top - height - 6;
    }
    box.style.left = left + "px";
    box.style.top = top + "px";
  }

  function hideDetails() {
    state.shownFor = null;
    byId("details").hidden = true;
  }

  function portTarget(event) {
    return event.target instanceof Element ? event.target.closest(".port, .mark") : null;
  }

  document.addEventListener("mouseover", function (event) {
    const target = portTarget(event);
    if (target) {
      showDetails(target);
    }
  });
  document.addEventListener("mouseout", function (event) {
    const target = portTarget(event);
    if (target && !target.contains(event.relatedTarget) && document.activeElement !== target) {
      hideDetails();
    }
  });
  document.addEventListener("focusin", function (event) {
    const target = portTarget(event);
    if (target) {
      showDetails(target);
    }
  });
  document.addEventListener("focusout", function (event) {
    if (portTarget(event)) {
      hideDetails();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && state.shownFor) {
      hideDetails();
    }
  });
  window.addEventListener("scroll", hideDetails, { passive: true });

  // ---- the audit log --------------------------------------------------------------------------

  async function refreshAudit() {
    const body = await call("GET", "/audit");
    const list = byId("audit");
    list.replaceChildren();
    for (const line of body.audit.slice().reverse()) {
      list.appendChild(element("li", null, line));
    }
    list.hidden = body.audit.length === 0;
    byId("no-audit").hidden = body.audit.length > 0;
  }

  // ---- wiring ---------------------------------------------------------------------------------

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button.release");
    if (button && !button.disabled) {
      askRelease(button);
    }
    const chip = event.target.closest("button.port");
    if (chip) {
      showDetails(chip);
    }
  });
  byId("confirm").addEventListener("close", function () {
    const dialog = byId("confirm");
    const lease = state.leases.find(function (x) {
      return x.lockId === dialog.dataset.lockId;
    });
    if (dialog.returnValue === "release" && lease) {
      release(lease);
    }
  });
  byId("filter").addEventListener("input", function (event) {
    state.filter = event.target.value;
    applyFilter();
  });
  let resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(drawOverview, 100);
  });
  window.addEventListener("hashchange", start);
  start();
})();
