"""The HTTP API and the dashboard: `styxy serve` (extra styxy[server]).

A plain function: `styxy.cli.table` declares its options (see `styxy.cli.leases`).
"""

from __future__ import annotations

from styxy import output
from styxy.cli.common import emit, notify

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Any


def serve(port: int, host: str, doc: str | None, json: bool) -> None:
    """Serve the HTTP API and the dashboard on loopback (needs the extra 'server')."""
    import sys

    from styxy.paths import display
    from styxy.server.serve import serve as run_server

    def announce(listening: Any) -> None:
        # The URL is the result (stdout), printed once the server can answer it.
        emit(
            json,
            {
                "url": listening.url,
                "document": str(listening.doc),
                "tokenFile": str(listening.token_file),
            },
            listening.url,
        )
        sys.stdout.flush()
        output.note(
            f"serving {display(listening.doc)}; token in {display(listening.token_file)}; "
            "Ctrl-C stops"
        )

    run_server(host=host, port=port, doc=doc, announce=announce, notify=notify)
