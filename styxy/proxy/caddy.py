"""The Caddy process styxy starts, and the admin API it talks to (loopback, JSON only).

Caddy starts from a bootstrap config on its standard input that holds only the admin API's
address; every route arrives later through `POST /load`. Its log lines (JSON on stderr) are
read by a thread: warnings and errors are passed on as `caddy: ...` notes, the last lines are
kept to explain a Caddy that exits on its own.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from styxy.errors import RefusedError

START_SECONDS = 10.0
STOP_SECONDS = 5.0
REQUEST_SECONDS = 10.0
KEPT_LINES = 20
# Warnings are mostly about choices styxy made on purpose (no automatic HTTPS on a plain port).
_PASSED_ON = frozenset({"error", "panic", "fatal"})

Notify = Callable[[str], None]


def find(program: str | None = None) -> str:
    """The Caddy to run: `$STYXY_CADDY`, else `caddy` on PATH (Debian's /usr/bin/caddy)."""
    chosen = program or os.environ.get("STYXY_CADDY") or "caddy"
    found = shutil.which(chosen)
    if found is None:
        raise RefusedError(
            f"styxy proxy needs Caddy, and {chosen!r} is not on PATH: install it "
            "(apt-get install caddy) or set STYXY_CADDY to your own caddy."
        )
    return found


class Caddy:
    """A running Caddy whose admin API listens on `admin` (host:port on loopback)."""

    def __init__(self, program: str, admin: str, home: Path, notify: Notify) -> None:
        self.admin = admin
        self.notify = notify
        self.lines: deque[str] = deque(maxlen=KEPT_LINES)
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Caddy keeps its CA, certificates and instance id in XDG folders: styxy's own, so the
        # user's Caddy (its CA, its autosave) is never touched by styxy's.
        env = {
            **os.environ,
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_CONFIG_HOME": str(home / "config"),
        }
        from styxy.proxy.config import bootstrap

        self.process = subprocess.Popen(
            [program, "run", "--config", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=home,  # never a folder with a Caddyfile of someone else's
            env=env,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(bootstrap(admin)).encode())
        self.process.stdin.close()
        self.reader = threading.Thread(target=self._read_log, daemon=True)
        self.reader.start()

    def _read_log(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            text = raw.decode("utf-8", "replace").rstrip("\n")
            if not text:
                continue
            self.lines.append(text)
            shown = _worth_saying(text)
            if shown is not None:
                self.notify(f"caddy: {shown}")

    def exited(self) -> int | None:
        return self.process.poll()

    def last_words(self) -> str:
        """The last thing Caddy said, for a sentence about why it stopped."""
        for text in reversed(self.lines):
            said = _message(text)
            if said:
                return said
        return "it said nothing"

    def wait_ready(self) -> None:
        """Wait until the admin API answers; refuse when Caddy exits or stays silent."""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            code = self.exited()
            if code is not None:
                self.reader.join(timeout=1)
                raise RefusedError(f"caddy exited at start (code {code}): {self.last_words()}.")
            try:
                self.request("GET", "/config/")
                return
            except (OSError, RefusedError):
                time.sleep(0.05)
        raise RefusedError(
            f"caddy's admin API did not answer on {self.admin} within {START_SECONDS:g} s."
        )

    def load(self, config: dict[str, Any]) -> None:
        """Replace Caddy's whole config (`POST /load`); Caddy keeps the old one on an error."""
        self.request("POST", "/load", config)

    def request(self, method: str, path: str, body: Any = None) -> bytes:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://{self.admin}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data is not None else {},
        )
        try:
            with _opener.open(request, timeout=REQUEST_SECONDS) as answer:
                return bytes(answer.read())
        except urllib.error.HTTPError as exc:
            raise RefusedError(f"caddy refused the config: {_error_text(exc.read())}.") from None
        except urllib.error.URLError as exc:
            raise RefusedError(
                f"caddy's admin API on {self.admin} did not answer ({exc.reason})."
            ) from None

    def stop(self) -> None:
        """End Caddy: SIGTERM (it finishes the requests under way), then SIGKILL if it lingers."""
        if self.exited() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.reader.join(timeout=1)
        if self.process.stdout is not None:
            self.process.stdout.close()


# The admin API is on loopback: a proxy from the environment (HTTP_PROXY) must not be asked.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _die_with_parent() -> None:
    """In the child before exec: Caddy gets SIGTERM when styxy dies, even by SIGKILL."""
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def _message(text: str) -> str:
    try:
        entry = json.loads(text)
    except ValueError:
        return text.strip()
    if not isinstance(entry, dict):
        return text.strip()
    said = str(entry.get("msg", "")).strip()
    error = entry.get("error")
    return f"{said}: {error}" if error else said


def _worth_saying(text: str) -> str | None:
    """A warning or an error of Caddy's, as one line; None for everything else."""
    try:
        entry = json.loads(text)
    except ValueError:
        return text.strip() or None  # not a log entry: a panic or a message of the runtime
    if isinstance(entry, dict) and str(entry.get("level", "")).lower() in _PASSED_ON:
        return _message(text)
    return None


def _error_text(body: bytes) -> str:
    try:
        said = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip() or "no reason given"
    if isinstance(said, dict) and "error" in said:
        return str(said["error"]).strip().rstrip(".")
    return str(said)
