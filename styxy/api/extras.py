"""The refusal of a command whose optional part is not installed, worded in one place.

`styxy mcp` needs the extra `agents` (the MCP SDK), `styxy serve` the extra `server` (Starlette
and Uvicorn). The sentence names the one line that adds the extra to this installation (pipx,
`uv tool`, or pip in a virtual environment; see `styxy.system.installation`), keeping the
extras it already has.
"""

from __future__ import annotations

from typing import Literal

from styxy.errors import StyxyError

Extra = Literal["agents", "server"]

_NEEDS: dict[Extra, str] = {
    "agents": "styxy mcp needs the MCP SDK (the extra 'agents')",
    "server": "styxy serve needs Starlette and Uvicorn (the extra 'server')",
}


def missing_extra(extra: Extra) -> StyxyError:
    from styxy.system.installation import current

    return StyxyError(f"{_NEEDS[extra]}; install it with `{current().line(extra)}`.")
