"""Names instead of numbers: `styxy proxy` (Caddy) and `styxy url NAME`."""

# No `from __future__ import annotations` here, on purpose: typer reads every command's
# annotations at start-up, and string annotations would cost an eval and a compile each.

import os
import sys

import typer

from styxy.cli.common import PORT, DocOption, JsonOption, doc_of, emit, notify, wants_json

commands = typer.Typer()

DEFAULT_PROXY_PORT = 1355


@commands.command()
def proxy(
    port: int = typer.Option(
        DEFAULT_PROXY_PORT, "--port", click_type=PORT, help="The port the proxy listens on."
    ),
    https: bool = typer.Option(False, "--https", help="Serve HTTPS with Caddy's internal CA."),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Serve every named lease at http://NAME.INSTANCE.localhost:PORT/ through Caddy."""
    from styxy.paths import display
    from styxy.proxy.serve import Listening, serve

    def announce(listening: Listening) -> None:
        # The URL is the result (stdout), printed once Caddy serves it: it lists the live names.
        ca = None if listening.ca_root is None else str(listening.ca_root)
        emit(
            json,
            {"url": listening.url, "port": listening.proxy.port, "https": listening.proxy.https,
             "caRoot": ca},
            listening.url,
        )
        sys.stdout.flush()
        if listening.ca_root is not None:
            notify(
                f"HTTPS from Caddy's internal CA; to trust it, add {display(listening.ca_root)} "
                "to your browser or system (docs/PROXY.md)"
            )
        notify("routes follow the leases; Ctrl-C stops")

    code = serve(port=port, https=https, doc=doc_of(doc), announce=announce, notify=notify)
    raise typer.Exit(code)


@commands.command()
def url(
    name: str = typer.Argument(..., metavar="NAME", help="The lease's name (-n of styxy run)."),
    instance_id: str | None = typer.Option(None, "-i", "--instance-id"),
    direct: bool = typer.Option(
        False, "--direct", help="Print http://localhost:PORT/ instead of the name's URL."
    ),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Print the URL of the running service NAME: http://NAME.INSTANCE.localhost:1355/."""
    from styxy.api import urls

    found = urls.service_url(
        name,
        instance_id=instance_id,
        prefer=() if instance_id else _preferred_instances(),
        doc=doc_of(doc),
        notify=notify,
    )
    if not found.proxied and not direct and not wants_json(json):
        notify(
            f"no styxy proxy runs, so this name does not answer yet; start one with "
            f"`styxy proxy`, or use {found.direct_url} (its port can change)"
        )
    emit(json, found.to_json(), found.direct_url if direct else found.url)


def _preferred_instances() -> list[str]:
    """The session's instance, then the project's around the current folder."""
    found = [
        value
        for value in (os.environ.get("STYXY_INSTANCE_ID"), os.environ.get("CLAUDE_INSTANCE_ID"))
        if value
    ]
    from styxy.errors import StyxyError
    from styxy.project.root import locate

    try:
        found.append(locate(None).project_id)
    except StyxyError:
        pass  # not inside a project: the name alone decides
    return found
