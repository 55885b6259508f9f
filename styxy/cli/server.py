"""The HTTP API and the dashboard: `styxy serve` (extra styxy[server])."""

# No `from __future__ import annotations` here, on purpose: typer reads every command's
# annotations at start-up, and string annotations would cost an eval and a compile each.

import sys
from typing import Any

import typer

from styxy import output
from styxy.cli.common import (
    PORT,
    DocOption,
    JsonOption,
    doc_of,
    emit,
    notify,
)

commands = typer.Typer()


@commands.command()
def serve(
    port: int = typer.Option(9876, "--port", click_type=PORT, help="The port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="127.0.0.1, ::1 or localhost."),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Serve the HTTP API and the dashboard on loopback (needs the extra 'server')."""
    from styxy.paths import display
    from styxy.server.serve import serve as run_server

    def announce(listening: Any) -> None:
        # The URL is the result (stdout), printed once the server can answer it.
        emit(json, {"url": listening.url, "document": str(listening.doc),
                    "tokenFile": str(listening.token_file)}, listening.url)
        sys.stdout.flush()
        output.note(
            f"serving {display(listening.doc)}; token in {display(listening.token_file)}; "
            "Ctrl-C stops"
        )

    run_server(host=host, port=port, doc=doc_of(doc), announce=announce, notify=notify)
