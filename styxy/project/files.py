"""The files a project owns, as styxy reads and names them.

Reads go through `styxy.store.fsio` like every other read of a file styxy does not own: a
non-blocking open (a FIFO cannot hang it), regular files only, a size limit per kind.
"""

from __future__ import annotations

import os
from pathlib import Path

from styxy.api import files as fsio

CONFIG_FILE = fsio.CONFIG  # styxy.toml
# A .env file holds a project's settings, much as styxy.toml does, and gets the same limit.
ENV_FILE = fsio.FileKind("the variables file", fsio.CONFIG.limit)


def shown(path: Path) -> str:
    """How messages name a project's file: relative to the current folder when inside it,
    as compilers do, so `styxy.toml:3:` opens in an editor from where the user stands."""
    try:
        return str(path.relative_to(os.getcwd()))
    except ValueError:
        return str(path)
