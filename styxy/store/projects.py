"""The projects file: which folder each project id (the instance of a worktree's leases)
stands for, so `styxy env --prune` knows which folders to look for (SPEC section 22).

A project id is a hash of its root's path and cannot be turned back into one; `styxy env`
records the pair in the same locked transaction that leases the project's ports. The file is
small JSON in the sidecar, private to its owner, replaced atomically with the lease file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from styxy.errors import LeaseFileError
from styxy.records import record
from styxy.store import fsio

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Any

FORMAT_VERSION = 1
PROJECTS_FILE = fsio.FileKind("the projects file", 4 * fsio.MiB)
# Far more worktrees than one machine ever has; the oldest records go first beyond it.
MAX_PROJECTS = 5000
MAX_ROOT = 4096  # PATH_MAX
MAX_ID = 128


@record
class Projects:
    """Project id -> root folder, in the order they were first recorded."""

    roots: tuple[tuple[str, str], ...] = ()

    def root_of(self, project_id: str) -> str | None:
        return dict(self.roots).get(project_id)

    def with_root(self, project_id: str, root: str) -> Projects:
        if self.root_of(project_id) == root:
            return self
        kept = [item for item in self.roots if item[0] != project_id]
        kept.append((project_id, root))
        return Projects(tuple(kept[-MAX_PROJECTS:]))

    def without(self, project_ids: Iterable[str]) -> Projects:
        gone = set(project_ids)
        return Projects(tuple(item for item in self.roots if item[0] not in gone))


def load(path: Path, *, dir_fd: int | None = None) -> Projects:
    """The recorded projects; a missing file is none, a damaged one a refusal (never empty).

    `dir_fd`: the open sidecar the transaction reads it through (styxy.store.sidecar)."""
    try:
        raw = fsio.read_bytes(
            path, PROJECTS_FILE, follow_links=False, private=True, dir_fd=dir_fd
        )
    except FileNotFoundError:
        return Projects()
    try:
        return _decode(fsio.loads_json(raw, "it"))
    except (ValueError, TypeError, KeyError) as exc:
        raise LeaseFileError(
            f"the projects file {path} is corrupt ({exc}); remove it and run `styxy env` in "
            "each worktree again."
        ) from None


def dump(projects: Projects) -> bytes:
    body = {"version": FORMAT_VERSION, "projects": [list(item) for item in projects.roots]}
    return (json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _decode(body: Any) -> Projects:
    if not isinstance(body, dict) or body.get("version") != FORMAT_VERSION:
        raise ValueError("not a projects file of version 1")
    items = body["projects"]
    if type(items) is not list or len(items) > MAX_PROJECTS:
        raise ValueError(f"projects must be a list of at most {MAX_PROJECTS} pairs")
    found = []
    for item in items:
        if not (
            type(item) is list
            and len(item) == 2
            and all(type(x) is str for x in item)
            and 0 < len(item[0]) <= MAX_ID
            and 0 < len(item[1]) <= MAX_ROOT
            and item[1].startswith("/")
        ):
            raise ValueError(f"{item!r} is not [project id, absolute folder]")
        found.append((item[0], item[1]))
    return Projects(tuple(found))
