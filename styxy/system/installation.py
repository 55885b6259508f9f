"""How this copy of styxy was installed, so a hint names a line that works for it.

Styxy is installed from a checkout or a built wheel (it is not on PyPI), by pipx, by
`uv tool install`, or by pip into a virtual environment. Which one is told by the files each
tool leaves at the root of the environment (`sys.prefix`): pipx writes `pipx_metadata.json`,
`uv tool` writes `uv-receipt.toml`. Where from is told by the install's `direct_url.json`
(PEP 610): the checkout folder, the wheel file or the repository URL, and whether the install
is editable. The extras already installed are those whose every requirement is present, so a
line that adds one extra keeps the others.

Read only when a command needs an extra that is missing: never on the hot path.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

Kind = Literal["pipx", "uv-tool", "venv", "system"]
DISTRIBUTION = "styxy"
# Extras that are for styxy's own development, never named in a hint.
PRIVATE_EXTRAS = frozenset({"test"})
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class Installation:
    kind: Kind
    prefix: Path
    # The checkout folder or wheel file as a path, a PEP 508 URL reference (`git+https://...`),
    # or "" when styxy came from a package index.
    source: str
    source_is_url: bool
    editable: bool
    extras: tuple[str, ...]  # the extras whose requirements are all installed

    def line(self, extra: str) -> str:
        """The one command that adds `extra` to this installation, keeping its other extras."""
        extras = ",".join(sorted({*self.extras, extra}))
        if not self.source:
            target = f"{DISTRIBUTION}[{extras}]"
        elif self.source_is_url:
            target = f"{DISTRIBUTION}[{extras}] @ {self.source}"
        else:
            target = f"{self.source}[{extras}]"
        quoted = shlex.quote(target)
        if self.kind == "pipx":
            return f"pipx install --force {quoted}"
        if self.kind == "uv-tool":
            return f"uv tool install --force {quoted}"
        editable = "-e " if self.editable and self.source and not self.source_is_url else ""
        return f"{shlex.quote(sys.executable)} -m pip install {editable}{quoted}"


def current() -> Installation:
    prefix = Path(sys.prefix)
    if (prefix / "pipx_metadata.json").is_file():
        kind: Kind = "pipx"
    elif (prefix / "uv-receipt.toml").is_file():
        kind = "uv-tool"
    elif sys.prefix != sys.base_prefix:
        kind = "venv"
    else:
        kind = "system"
    source, is_url, editable = _origin()
    return Installation(kind, prefix, source, is_url, editable, _installed_extras())


def _origin() -> tuple[str, bool, bool]:
    """(source, whether it is a URL reference, editable) from direct_url.json; ("", False,
    False) for an install from an index or without the file."""
    from importlib import metadata

    try:
        raw = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
        found = json.loads(raw) if raw else None
    except (metadata.PackageNotFoundError, ValueError):
        return "", False, False
    if not isinstance(found, dict) or not isinstance(found.get("url"), str):
        return "", False, False
    url: str = found["url"]
    dir_info = found.get("dir_info")
    editable = isinstance(dir_info, dict) and dir_info.get("editable") is True
    vcs = found.get("vcs_info")
    if isinstance(vcs, dict) and isinstance(vcs.get("vcs"), str):
        commit = vcs.get("commit_id")
        pinned = f"@{commit}" if isinstance(commit, str) else ""
        return f"{vcs['vcs']}+{url}{pinned}", True, False
    parts = urlsplit(url)
    if parts.scheme == "file":
        return unquote(parts.path), False, editable
    return url, True, False


def _installed_extras() -> tuple[str, ...]:
    from importlib import metadata

    try:
        requires = metadata.distribution(DISTRIBUTION).requires or []
    except metadata.PackageNotFoundError:
        return ()
    needs: dict[str, list[str]] = {}
    for requirement in requires:
        marker = _EXTRA_MARKER.search(requirement.partition(";")[2])
        name = _NAME.match(requirement)
        if marker and name and marker.group(1) not in PRIVATE_EXTRAS:
            needs.setdefault(marker.group(1), []).append(name.group(1))
    return tuple(sorted(extra for extra, names in needs.items() if all(map(_present, names))))


def _present(name: str) -> bool:
    from importlib import metadata

    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True
