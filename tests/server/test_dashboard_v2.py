"""The dashboard of SPEC section 20 in Debian's real Chromium (headless, driven by Playwright):
three widths, counts of real leases and a real listener, a port's details by mouse and by
keyboard, the filter, Release behind a real dialog, the stale page, and axe-core's audit.

The screenshots of docs/integrations/http-api.md are written by this module into docs/images/.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from netutil import first_free
from server_support import *  # Server, wait_until, and the module fixtures cli and server
from support import ROOT, Styxy

WIDTHS = (400, 800, 1400)
IMAGES = ROOT / "docs" / "images"
# axe-core from npm, where .ci/run installs it (`npm install --prefix DIR axe-core`), or the
# file $STYXY_AXE_CORE names.
AXE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "styxy-tests" / "axe-core"
AXE_JS = Path(
    os.environ.get("STYXY_AXE_CORE", AXE_DIR / "node_modules" / "axe-core" / "axe.min.js")
)
SLOW = 60000  # ms: a cold tab on a loaded machine; the spec's 3 s is measured on a live page



def listener(port: int) -> socket.socket:
    """A listening socket as servers make one (SO_REUSEADDR)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


@dataclass(frozen=True)
class Scene:
    """Leases made by real `styxy allocate` processes (held by this test's process) and a
    listener without a lease."""

    leases: dict[str, dict[str, Any]]
    stranger: int  # a port something listens on without a lease (in the docs range)

    def in_range(self, start: int, end: int) -> list[dict[str, Any]]:
        return [x for x in self.leases.values() if start <= x["port"] <= end]


@pytest.fixture(scope="module")
def scene(cli: Styxy, server: Server) -> Iterator[Scene]:
    made = {}
    for key, args in {
        "agent": ("-s", "dev", "-i", "claude-7f3a", "-n", "storefront", "-p", "3004"),
        "web": ("-s", "dev", "-i", "alice", "-n", "web"),
        "api": ("-s", "api", "-i", "alice", "-n", "backend"),
        "db": ("-s", "database", "-i", "bob"),
        "llm": ("-s", "ai", "-i", "alice", "-n", "llm"),
        # A new type: the document gains a range and an audit line.
        "grafana": ("-s", "grafana", "-i", "bob", "-n", "metrics"),
    }.items():
        done = cli("allocate", *args, "--json")
        assert done.code == 0, done.err
        made[key] = done.json()
    # The web server really runs (leased and listening); something else listens in docs.
    running = listener(made["web"]["port"])
    stranger_port = first_free(range(4150, 4200))
    stranger = listener(stranger_port)
    try:
        yield Scene(made, stranger_port)
    finally:
        running.close()
        stranger.close()
        for lease in made.values():
            cli("release", lease["lockId"])


class Tab:
    """A browser tab on the dashboard; any script error or CSP report fails the test."""

    def __init__(
        self, browser: Any, url: str, width: int, *, bypass_csp: bool = False, live: bool = True
    ) -> None:
        self.context = browser.new_context(
            viewport={"width": width, "height": 900}, bypass_csp=bypass_csp
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on(
            "console", lambda m: self.errors.append(m.text) if m.type == "error" else None
        )
        self.page.goto(url, timeout=SLOW)
        if live:
            self.page.locator("#status", has_text="Live").wait_for(timeout=SLOW)

    def wait_for_scene(self, scene: Scene) -> None:
        for lease in scene.leases.values():
            self.page.locator(f"#leases tr[data-lock-id='{lease['lockId']}']").wait_for(
                timeout=SLOW
            )
            self.page.locator(f"#ranges button.port[data-port='{lease['port']}']").wait_for(
                state="attached", timeout=SLOW
            )
        self.page.locator(f"#ranges button.port.listening[data-port='{scene.stranger}']").wait_for(
            state="attached", timeout=SLOW
        )
        self.page.locator(
            f"#ranges button.port.running[data-port='{scene.leases['web']['port']}']"
        ).wait_for(state="attached", timeout=SLOW)
        self.page.locator("#about-document", has_text="PORT_MANAGEMENT.md").wait_for(timeout=SLOW)

    def close(self, *, expect_errors: bool = False) -> None:
        self.context.close()
        if not expect_errors:
            assert self.errors == []


@pytest.fixture
def tabs(browser: Any, server: Server) -> Iterator[list[Tab]]:
    opened: list[Tab] = []
    yield opened
    for tab in opened:
        tab.close()


def open_tab(tabs: list[Tab], browser: Any, server: Server, width: int, **kw: Any) -> Tab:
    tab = Tab(browser, server.url, width, **kw)
    tabs.append(tab)
    return tab


def text(locator: Any) -> str:
    return " ".join((locator.text_content() or "").split())


def ranges_of(cli: Styxy) -> list[dict[str, Any]]:
    done = cli("ranges", "--json")
    assert done.code == 0, done.err
    rows: list[dict[str, Any]] = done.json()["ranges"]
    return rows


def test_about_names_the_document_and_the_iana_data(server: Server, cli: Styxy) -> None:
    answer = server.request("GET", "/about")
    assert answer.status == 200, answer.body
    body = answer.json()
    assert body["document"] == str(cli.doc)
    assert set(body["iana"]) == {"kind", "path", "updated", "origin", "description"}
    assert body["iana"]["kind"] in ("index", "shipped", "services", "none")
    if body["iana"]["kind"] == "shipped":  # out of the box: the index inside the package
        assert body["iana"]["description"] == "IANA's registry of 2024-03-18 (shipped with styxy)"
    elif body["iana"]["kind"] == "index":
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", body["iana"]["updated"])
        assert body["iana"]["description"] == f"IANA's registry of {body['iana']['updated']} (imported)"
    elif body["iana"]["kind"] == "services":
        assert body["iana"]["description"] == body["iana"]["path"]
    assert server.request("GET", "/about", token=None).status == 401


def test_ranges_name_the_process_behind_a_listener_without_lease(
    server: Server, scene: Scene
) -> None:
    answer = server.request("GET", "/ranges")
    assert answer.status == 200, answer.body
    listeners = {x["port"]: x for x in answer.json()["listeners"]}
    mine = listeners[scene.stranger]
    assert set(mine) == {"port", "pid", "process", "command", "startedAt"}
    assert mine["pid"] == os.getpid()
    assert "python" in mine["process"] and "pytest" in mine["command"]
    started = datetime.fromisoformat(mine["startedAt"])
    assert 0 <= (datetime.now(UTC) - started).total_seconds() < 24 * 3600
    # A leased port is the lease's to describe, listening or not.
    assert scene.leases["web"]["port"] not in listeners


@pytest.mark.parametrize("width", WIDTHS)
def test_every_width_fits_the_window_and_shows_every_range_with_its_counts(
    browser: Any, server: Server, cli: Styxy, scene: Scene, tabs: list[Tab], width: int
) -> None:
    tab = open_tab(tabs, browser, server, width)
    tab.wait_for_scene(scene)
    page = tab.page
    # No sideways scroll of the page.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        page.evaluate(WIDER_THAN_THE_WINDOW)
    )
    rows = ranges_of(cli)
    # One reading of the whole list, inside the page: it redraws when anything on the machine
    # starts or stops listening, and a reading spread over many calls could straddle a redraw.
    shown = page.evaluate(READ_RANGES)
    assert [x["type"] for x in shown] == [r["serviceType"] for r in rows] and len(rows) == 18
    for row, item in zip(rows, shown):
        assert item["visible"] and item["left"] >= 0 and item["right"] <= width, item
        assert item["name"] == row["serviceType"] and item["nameSize"] >= 14
        assert item["span"] == f"{row['start']}\N{EN DASH}{row['end']}"
        # The counts: our leases exactly; the listeners without lease as the page marks them
        # (other programs on this machine may listen in these ranges too).
        ours = scene.in_range(row["start"], row["end"])
        leased, listening, free = (int(item[k].split()[0]) for k in ("leased", "listening", "free"))
        assert leased == len(ours), (row["serviceType"], leased, ours)
        assert listening == sum(1 for c in item["chips"] if c["kind"] == "listening")
        assert free == row["end"] - row["start"] + 1 - leased - listening
        assert item["counts"] == (
            f"{leased} leased · {listening} listening without lease · {free} free"
        )
        chips = {c["port"]: c for c in item["chips"]}
        for lease in ours:
            chip = chips[str(lease["port"])]
            assert chip["visible"] and chip["who"] == (
                lease["instanceId"] + (f" · {lease['name']}" if lease["name"] else "")
            )
        assert item["badge"] == ("single" if row["instances"] == "single" else None)
    docs = next(x for x in shown if x["type"] == "docs")
    stranger = {c["port"]: c for c in docs["chips"]}[str(scene.stranger)]
    assert stranger["kind"] == "listening" and stranger["visible"]

    strips = page.locator("#ranges .strip")
    if width < 720:
        # A narrow screen gets the list, not a shrunken picture.
        assert not strips.first.is_visible() and not page.locator("#overview").is_visible()
        # The table turns into cards whose cells say what they are.
        cell = page.locator(f"#leases tr[data-lock-id='{scene.leases['agent']['lockId']}'] td.instance")
        assert cell.evaluate("e => getComputedStyle(e, '::before').content") == '"Instance"'
    else:
        assert strips.first.is_visible() and page.locator("#overview svg").is_visible()
        # Axis labels at round values, readable (read at once, as above).
        ticks = page.evaluate(READ_TICKS)
        for value in [t for row in ticks["rows"] for t in row] + ticks["overview"]:
            assert int(value) % 5 == 0, value
        dev_ticks = ticks["rows"][0]
        assert dev_ticks[0] == "3000" and all(int(t) % 10 == 0 for t in dev_ticks), dev_ticks
        overview_ticks = [int(t) for t in ticks["overview"]]
        assert overview_ticks[0] <= 3000 and overview_ticks[-1] >= 11500, overview_ticks
        assert len({b - a for a, b in zip(overview_ticks, overview_ticks[1:])}) == 1
        assert ticks["size"] >= 11
    # The document and the IANA data this page shows.
    assert text(page.locator("#about-document")) == str(cli.doc)
    about = server.request("GET", "/about").json()["iana"]
    assert text(page.locator("#about-iana")) == (
        about["description"] if about["updated"] in about["description"]
        else f"{about['updated']} ({about['description']})" if about["updated"]
        else f"{about['description']} (no date)"
    )
    # A named lease shows its name's URL behind `styxy proxy` (SPEC 22), muted while no proxy
    # runs; an unnamed one shows none.
    web = page.locator(f"#leases tr[data-lock-id='{scene.leases['web']['lockId']}'] td.name a.url")
    assert (text(web), web.get_attribute("href")) == ("http://web.alice.localhost:1355/",) * 2
    assert web.get_attribute("class") == "url unproxied" and web.is_visible()
    db = page.locator(f"#leases tr[data-lock-id='{scene.leases['db']['lockId']}'] td.name")
    assert db.locator("a").count() == 0

    IMAGES.mkdir(parents=True, exist_ok=True)
    shot = IMAGES / f"dashboard-{width}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


READ_RANGES = """[...document.querySelectorAll('#ranges > li.range')].map(li => {
  const box = li.getBoundingClientRect();
  const words = sel => { const e = li.querySelector(sel); return e ? e.textContent.replace(/\\s+/g, ' ').trim() : null; };
  return {
    type: li.dataset.serviceType, visible: li.checkVisibility(), left: box.left, right: box.right,
    name: words('.range-name'), nameSize: parseFloat(getComputedStyle(li.querySelector('.range-name')).fontSize),
    span: words('.span'), badge: words('.badge'), counts: words('.counts'),
    leased: words('.n-leased'), listening: words('.n-listening'), free: words('.n-free'),
    chips: [...li.querySelectorAll('button.port')].map(c => ({
      port: c.dataset.port, kind: ['leased', 'running', 'listening'].find(k => c.classList.contains(k)),
      who: c.querySelector('.who').textContent, visible: c.checkVisibility(),
    })),
  };
})"""
READ_TICKS = """({
  rows: [...document.querySelectorAll('#ranges > li.range')].map(li => [...li.querySelectorAll('.axis .tick')].map(t => t.textContent)),
  overview: [...document.querySelectorAll('#overview .ov-tick')].map(t => t.textContent),
  size: parseFloat(getComputedStyle(document.querySelector('#ranges .axis .tick')).fontSize),
})"""
# For the failure message: what sticks out of the window.
WIDER_THAN_THE_WINDOW = """[document.documentElement.scrollWidth, innerWidth,
  [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > innerWidth)
    .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + e.getBoundingClientRect().right)]"""


def details_text(page: Any) -> str:
    """The shown details as one line: `Port 3004 State leased, ... Holder 123 (python) ...`."""
    box = page.locator("#details")
    box.wait_for(state="visible", timeout=5000)
    parts = [text(box.locator(".details-title"))]
    for term, value in zip(box.locator("dt").all(), box.locator("dd").all()):
        parts += [text(term), text(value)]
    return " ".join(parts)


def test_a_ports_details_show_on_hover(
    browser: Any, server: Server, scene: Scene, tabs: list[Tab]
) -> None:
    tab = open_tab(tabs, browser, server, 1400)
    tab.wait_for_scene(scene)
    page = tab.page
    agent = scene.leases["agent"]
    # On the picture...
    page.locator(f"#ranges .mark[data-port='{agent['port']}']").hover()
    shown = details_text(page)
    assert shown.startswith(f"Port {agent['port']} State leased, nothing listening Holder {os.getpid()} (")
    assert re.search(r"Command \S*python\S*", shown), shown
    assert re.search(r"Age \d+(s|m \d+s)", shown), shown
    assert f"Instance claude-7f3a Name storefront Lock {agent['lockId']}" in shown
    page.mouse.move(1, 1)
    page.locator("#details").wait_for(state="hidden", timeout=5000)
    # ... and on a port's chip: the web server, leased and listening.
    web = scene.leases["web"]
    page.locator(f"#ranges button.port[data-port='{web['port']}']").hover()
    assert details_text(page).startswith(
        f"Port {web['port']} State leased and listening Holder {os.getpid()} ("
    )
    # A listener without lease: its process is the holder.
    page.locator(f"#ranges .mark[data-port='{scene.stranger}']").hover()
    shown = details_text(page)
    assert shown.startswith(
        f"Port {scene.stranger} State listening without lease Holder {os.getpid()} ("
    ), shown
    assert re.search(r"Command \S*python\S*", shown) and "(the process)" in shown, shown


def test_a_ports_details_show_on_keyboard_focus_on_a_phone(
    browser: Any, server: Server, scene: Scene, tabs: list[Tab]
) -> None:
    tab = open_tab(tabs, browser, server, 400)
    tab.wait_for_scene(scene)
    page = tab.page
    agent = scene.leases["agent"]
    page.locator("#filter").focus()
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.port") == str(agent["port"]):
            break
    else:
        raise AssertionError("Tab never reached the port's chip")
    shown = details_text(page)
    assert shown.startswith(f"Port {agent['port']} State leased, nothing listening Holder {os.getpid()}")
    assert "Instance claude-7f3a Name storefront" in shown
    box = page.locator("#details").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 400
    # The chip is described by the details for a screen reader too.
    assert page.evaluate("document.activeElement.getAttribute('aria-describedby')") == "details"
    page.keyboard.press("Escape")
    page.locator("#details").wait_for(state="hidden", timeout=5000)


def shown_ranges(page: Any) -> list[str]:
    return [
        x.get_attribute("data-service-type") or ""
        for x in page.locator("#ranges > li.range").all()
        if x.is_visible()
    ]


def shown_leases(page: Any) -> list[str]:
    return [
        x.get_attribute("data-lock-id") or ""
        for x in page.locator("#leases tbody tr").all()
        if x.is_visible()
    ]


@pytest.mark.parametrize("width", (400, 1400))
def test_the_filter_narrows_the_map_and_the_table(
    browser: Any, server: Server, scene: Scene, tabs: list[Tab], width: int
) -> None:
    tab = open_tab(tabs, browser, server, width)
    tab.wait_for_scene(scene)
    page = tab.page
    box = page.locator("#filter")
    lock = {key: lease["lockId"] for key, lease in scene.leases.items()}
    # Every lease of the scene, and the server's own lease of its port (SPEC 17).
    assert len(shown_ranges(page)) == 18 and len(shown_leases(page)) == len(lock) + 1

    box.fill("claude-7f3a")  # an instance
    assert shown_ranges(page) == ["dev"] and shown_leases(page) == [lock["agent"]]
    dev = page.locator("#ranges li.range[data-service-type='dev']")
    visible_chips = [c.get_attribute("data-port") for c in dev.locator("button.port").all() if c.is_visible()]
    assert visible_chips == [str(scene.leases["agent"]["port"])]
    if width >= 720:
        dimmed = page.locator("#overview .band.dimmed").count()
        assert dimmed == 17

    box.fill(str(scene.leases["agent"]["port"]))  # a port
    assert shown_ranges(page) == ["dev"] and shown_leases(page) == [lock["agent"]]

    box.fill("backend")  # a name
    assert shown_ranges(page) == ["api"] and shown_leases(page) == [lock["api"]]

    box.fill("database")  # a type
    assert shown_ranges(page) == ["database"] and shown_leases(page) == [lock["db"]]

    box.fill("alice")
    assert shown_ranges(page) == ["dev", "api", "ai"]
    assert sorted(shown_leases(page)) == sorted([lock["web"], lock["api"], lock["llm"]])
    assert text(page.locator("#filter-result")) == "3 ranges, 3 leases match"

    box.fill("no-such-thing")
    assert shown_ranges(page) == [] and shown_leases(page) == []
    assert text(page.locator("#no-ranges")) == "No range matches “no-such-thing”."
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    box.fill("")
    assert len(shown_ranges(page)) == 18 and len(shown_leases(page)) == len(lock) + 1


def lock_ids(cli: Styxy) -> set[str]:
    done = cli("list", "--json")
    assert done.code == 0, done.err
    return {x["lockId"] for x in done.json()["leases"]}


@pytest.mark.parametrize("width", (400, 1400))
def test_release_asks_first_and_says_what_it_ended(
    browser: Any, server: Server, cli: Styxy, scene: Scene, tabs: list[Tab], width: int
) -> None:
    made = cli("allocate", "-s", "proxy", "-i", "release-me", "-n", f"w{width}", "--json")
    assert made.code == 0, made.err
    lease = made.json()
    tab = open_tab(tabs, browser, server, width)
    page = tab.page
    row = page.locator(f"#leases tr[data-lock-id='{lease['lockId']}']")
    row.wait_for(timeout=SLOW)
    dialog = page.locator("dialog#confirm")
    wanted = (
        f"Release port {lease['port']} (proxy, instance release-me, name w{width}), "
        f"held by {os.getpid()} ("
    )

    # Escape dismisses the dialog: nothing ends.
    row.locator("button.release").click()
    dialog.wait_for(state="visible", timeout=5000)
    assert page.evaluate("document.querySelector('#confirm').open")
    assert text(page.locator("#confirm-text")).startswith(wanted)
    box = dialog.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden", timeout=5000)
    # Cancel dismisses it too.
    row.locator("button.release").click()
    dialog.wait_for(state="visible", timeout=5000)
    page.locator("#confirm-cancel").click()
    dialog.wait_for(state="hidden", timeout=5000)
    time.sleep(1.5)  # more than a poll: a release would have happened by now
    assert lease["lockId"] in lock_ids(cli)
    assert row.is_visible() and page.locator("#notice").is_hidden()

    # Accepted: the lease ends, and the page says which.
    row.locator("button.release").click()
    dialog.wait_for(state="visible", timeout=5000)
    page.locator("#confirm-release").click()
    row.wait_for(state="detached", timeout=5000)
    assert lease["lockId"] not in lock_ids(cli)
    notice = page.locator("#notice")
    notice.wait_for(state="visible", timeout=5000)
    assert text(notice) == (
        f"Released port {lease['port']} (proxy, instance release-me, name w{width}), "
        f"held by {os.getpid()} (lock {lease['lockId']})."
    )


# Each URL of the lease list as laid out, whatever elements it is drawn with: its text, and
# the top of every character of it (a Range per character: the line it is drawn on).
READ_URLS = """[...document.querySelectorAll('#leases tbody tr')].filter(tr => tr.querySelector('a.url')).map(tr => {
  const a = tr.querySelector('a.url');
  const tops = [];
  const walker = document.createTreeWalker(a, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.data.length; i++) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      tops.push(range.getBoundingClientRect().top);
    }
  }
  const cell = tr.querySelector('td.name').getBoundingClientRect();
  const box = a.getBoundingClientRect();
  return {
    lockId: tr.dataset.lockId, href: a.getAttribute('href'), text: a.textContent,
    innerText: a.innerText, tops: tops,
    inside: box.left >= cell.left - 0.5 && box.right <= cell.right + 0.5,
  };
})"""


def line_breaks(tops: list[float]) -> list[int]:
    """Where a new line starts: the index of its first character (a line is ~17 px apart)."""
    return [i for i in range(1, len(tops)) if tops[i] - tops[i - 1] > 5]


@pytest.mark.parametrize("width", WIDTHS)
def test_a_url_wraps_only_between_its_parts_never_inside_its_port(
    browser: Any, server: Server, cli: Styxy, scene: Scene, tabs: list[Tab], width: int
) -> None:
    # A name as long as a host label may be (63 letters): narrower than 1,400 px it is longer
    # than a card's line, the one piece of a URL that may wrap inside itself.
    long_name = "nightly-ledger-export-and-reconciliation-worker-for-payments-eu"
    assert len(long_name) == 63
    made = cli("allocate", "-s", "messaging", "-i", "wrap", "-n", long_name, "--json")
    assert made.code == 0, made.err
    long_lease = made.json()
    try:
        tab = open_tab(tabs, browser, server, width)
        tab.wait_for_scene(scene)
        page = tab.page
        page.locator(f"#leases tr[data-lock-id='{long_lease['lockId']}'] a.url").wait_for(
            timeout=SLOW
        )
        rows = {x["lockId"]: x for x in page.evaluate(READ_URLS)}
        assert rows[long_lease["lockId"]]["href"] == f"http://{long_name}.wrap.localhost:1355/"
        wrapped = {}
        for lock_id, row in rows.items():
            url = row["href"]
            # The link says the URL, character for character (copy, screen readers).
            assert row["text"] == row["innerText"] == url and len(row["tops"]) == len(url), row
            assert row["inside"], row
            # The host's last label, the port and the path "/" on one line: `.localhost:1355/`.
            last = url.rindex(".", 0, url.rindex(":"))
            assert url[last:] == ".localhost:1355/"
            assert len(set(row["tops"][last:])) == 1, (width, url, row["tops"][last:])
            breaks = line_breaks(row["tops"])
            wrapped[lock_id] = [url[:i] for i in breaks]
            # A line ends after the scheme's // or before a . or a /, or inside a label longer
            # than a line (the long name's): never inside a port or at a hyphen.
            label = url.find(long_name)
            for i in breaks:
                assert (
                    url[:i].endswith("//") or url[i] in "./"
                    or (label >= 0 and label < i < label + len(long_name))
                ), (width, url, url[:i])
        agent, backend = scene.leases["agent"]["lockId"], scene.leases["api"]["lockId"]
        if width == 800:
            # The cards are narrow enough here that the long URLs do wrap, at a dot.
            assert wrapped[agent] == ["http://storefront.claude-7f3a"]
            assert wrapped[backend] == ["http://backend.alice"]
        if width < 1400:
            assert len(wrapped[long_lease["lockId"]]) >= 2
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
            page.evaluate(WIDER_THAN_THE_WINDOW)
        )
    finally:
        cli("release", long_lease["lockId"])


def own_lease(cli: Styxy, server: Server) -> dict[str, Any]:
    """The lease `styxy serve` holds on its own port (SPEC 17)."""
    done = cli("list", "--json")
    assert done.code == 0, done.err
    (lease,) = [
        x for x in done.json()["leases"]
        if (x["serviceType"], x["name"], x["port"], x["pid"])
        == ("coordination", "serve", server.port, server.process.pid)
    ]
    return dict(lease)


@pytest.mark.parametrize("width", (400, 800, 1400))
def test_the_servers_own_lease_is_marked_and_offers_no_release(
    browser: Any, server: Server, cli: Styxy, scene: Scene, tabs: list[Tab], width: int
) -> None:
    own = own_lease(cli, server)
    tab = open_tab(tabs, browser, server, width)
    tab.wait_for_scene(scene)
    page = tab.page
    row = page.locator(f"#leases tr[data-lock-id='{own['lockId']}']")
    row.wait_for(timeout=SLOW)
    assert row.locator("button").count() == 0
    mark = row.locator("td.action span.this-server")
    assert text(mark) == "this server" and mark.is_visible()
    assert mark.get_attribute("title") == (
        "The styxy serve showing this page holds this lease; it ends when the server stops."
    )
    # Every other lease keeps its Release button, and no other row is marked.
    other = page.locator(f"#leases tr[data-lock-id='{scene.leases['web']['lockId']}']")
    assert other.locator("button.release").is_visible()
    assert other.locator("button.release").get_attribute("aria-label") == (
        f"Release port {scene.leases['web']['port']}"
    )
    assert page.locator("#leases span.this-server").count() == 1
    assert page.locator("#leases button.release").count() == page.locator("#leases tbody tr").count() - 1


def test_a_stopped_server_turns_the_page_stale_within_3_s(
    browser: Any, cli: Styxy, scene: Scene, tabs: list[Tab], tmp_path: Path
) -> None:
    # A second server on the same document: an instance of its own, since a server leases
    # its port as (coordination, instance, serve) and one instance runs one server (SPEC 17).
    second = Styxy(cli.doc, cli.home)
    second.env["STYXY_INSTANCE_ID"] = "second-server"
    own = Server(second, tmp_path / "serve.log")
    try:
        tab = open_tab(tabs, browser, own, 800)
        tab.wait_for_scene(scene)
        page = tab.page
        banner = page.locator("#stale")
        assert banner.is_hidden()
        assert page.locator("#live").get_attribute("aria-busy") is None
        stopped = time.monotonic()
        assert own.stop() == -signal.SIGTERM  # uvicorn lets SIGTERM end it, as it would have
        banner.wait_for(state="visible", timeout=3000)
        assert time.monotonic() - stopped < 3.0
        said = text(banner)
        assert said.startswith("Not live: styxy serve does not answer (no connection).")
        assert re.search(r"What you see is the picture of \d", said), said
        # The stale picture stays, greyed, marked busy, and nothing on it can be released.
        assert page.locator("#ranges > li.range").count() == 18
        assert page.locator("#live").get_attribute("aria-busy") == "true"
        assert page.evaluate("getComputedStyle(document.querySelector('main')).opacity") == "0.55"
        buttons = page.locator("#leases button.release")
        assert buttons.count() >= len(scene.leases)
        assert all(b.is_disabled() for b in buttons.all())
        assert "Cannot reach styxy serve" in text(page.locator("#status"))
        # The banner sits over the picture: it stays on screen when the page scrolls.
        page.mouse.wheel(0, 2000)
        time.sleep(0.3)
        top = banner.bounding_box()
        assert top is not None and 0 <= top["y"] < 5
    finally:
        own.stop()
    # The browser logs the failed requests themselves; nothing else may fail.
    tab.errors[:] = [e for e in tab.errors if "ERR_CONNECTION_REFUSED" not in e]


def test_a_refused_token_turns_the_page_stale(
    browser: Any, server: Server, tabs: list[Tab]
) -> None:
    tab = Tab(browser, f"http://127.0.0.1:{server.port}/#token=not-the-token", 400, live=False)
    banner = tab.page.locator("#stale")
    banner.wait_for(state="visible", timeout=10000)
    assert text(banner).startswith("Not live: the server refused this page's token.")
    assert text(tab.page.locator("#problem")).startswith("The server refused this page's token")
    tab.close(expect_errors=True)


def test_axe_core_finds_no_serious_violation(
    browser: Any, server: Server, scene: Scene, tabs: list[Tab]
) -> None:
    assert AXE_JS.is_file(), (
        f"axe-core is missing at {AXE_JS}: npm install --prefix {AXE_DIR} axe-core "
        "(.ci/run does it), or name axe.min.js in $STYXY_AXE_CORE"
    )
    for width in WIDTHS:
        # The page's CSP forbids inline scripts, rightly; this tab lets the test inject axe.
        tab = open_tab(tabs, browser, server, width, bypass_csp=True)
        tab.wait_for_scene(scene)
        tab.page.add_script_tag(path=str(AXE_JS))
        states = ["page"]
        found = audit(tab.page)
        # With a port's details shown, and with the release dialog open.
        tab.page.locator(f"#ranges button.port[data-port='{scene.leases['agent']['port']}']").focus()
        states.append("details")
        found += audit(tab.page)
        tab.page.locator(
            f"#leases tr[data-lock-id='{scene.leases['agent']['lockId']}'] button.release"
        ).click()
        tab.page.locator("dialog#confirm").wait_for(state="visible", timeout=5000)
        states.append("dialog")
        found += audit(tab.page)
        tab.page.keyboard.press("Escape")
        assert found == [], (width, states, found)


def audit(page: Any) -> list[str]:
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['nodes'][:3]}"
        for v in result
        if v["impact"] in ("serious", "critical")
    ]
