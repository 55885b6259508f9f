"""Names instead of numbers: `styxy proxy` (Caddy) and `styxy url NAME`.

Plain functions: `styxy.cli.table` declares their options (see `styxy.cli.leases`).
"""

from __future__ import annotations

from styxy.cli.common import emit, notify

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from styxy.proxy.serve import Listening


def proxy(port: int, https: bool, doc: str | None, json: bool) -> int:
    """Serve every named lease at http://NAME.INSTANCE.localhost:PORT/ through Caddy."""
    import sys

    from styxy.paths import display
    from styxy.proxy.serve import serve

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

    return serve(port=port, https=https, doc=doc, announce=announce, notify=notify)


def url(name: str, instance_id: str | None, direct: bool, doc: str | None, json: bool) -> None:
    """Print the URL of the running service NAME: http://NAME.INSTANCE.localhost:1355/."""
    from styxy.api import urls

    found = urls.service_url(
        name,
        instance_id=instance_id,
        prefer=() if instance_id else _preferred_instances(),
        doc=doc,
        notify=notify,
    )
    if not found.proxied and not direct and not json:
        notify(
            f"no styxy proxy runs, so this name does not answer yet; start one with "
            f"`styxy proxy`, or use {found.direct_url} (its port can change)"
        )
    emit(json, found.to_json(), found.direct_url if direct else found.url)


def _preferred_instances() -> list[str]:
    """The session's instance, then the project's around the current folder."""
    import os

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
