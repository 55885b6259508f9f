"""Helpers of the IANA tests: the shared registry copy, the report script, a local HTTP server."""

from __future__ import annotations

import http.server
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "docs" / "references" / "make_iana_report.py"
SAMPLE_CSV = ROOT / "tests" / "fixtures" / "iana-sample.csv"


def report_script() -> ModuleType:
    # docs/references is not a package; load the script as a module to reuse its helpers.
    spec = importlib.util.spec_from_file_location("make_iana_report", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses looks the defining module up in sys.modules while building the class.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def shared_registry() -> Path:
    """IANA's registry copy at ../shared/data (not committed here); a clear failure without it."""
    script = report_script()
    found = script.find_registry()
    if found is None:
        pytest.fail(
            "IANA's registry copy is missing: expected "
            f"{' or '.join(str(p) for p in script.REGISTRY_CANDIDATES)}",
            pytrace=False,
        )
    return Path(found)


Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


@contextmanager
def http_server(respond: Handler) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 in a thread; yields its base URL."""

    class Serve(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            respond(self)

        def log_message(self, *args: object) -> None:
            pass  # keep the test output clean

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Serve)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


def send(body: bytes, *, status: int = 200, length: int | None = None) -> Handler:
    """A handler that answers every GET with `body` (and a Content-Length that may lie)."""

    def respond(request: http.server.BaseHTTPRequestHandler) -> None:
        request.send_response(status)
        request.send_header("Content-Type", "application/xml")
        request.send_header("Content-Length", str(len(body) if length is None else length))
        request.end_headers()
        request.wfile.write(body)

    return respond
