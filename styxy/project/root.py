"""Which project a command is in, and the id that names it in the leases.

The root is the folder that holds `styxy.toml`. Found from the current folder by walking up,
the search stops at the git worktree root (a folder with a `.git` file or folder): a worktree
whose branch has no `styxy.toml` must not borrow the ports of the checkout it sits in.

The id is `<folder name>-<8 hex digits of sha256(real path of the root)>`: readable in
`styxy list`, stable for as long as the folder stays where it is, and different for each
worktree, since every worktree is a folder of its own. Symbolic links are resolved first, so
reaching the folder through a link gives the same id. Git itself is never run: reading the
`.git` entry is enough to know where a worktree ends, and costs no subprocess.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from styxy.errors import InvalidValueError, NotFoundError
from styxy.project.config import CONFIG_NAME
from styxy.records import record

_NAME_TEXT = re.compile(r"[^A-Za-z0-9._-]+")
NAME_LIMIT = 40
CREATE = 'create one ([services.web] with type = "dev", see docs/PROJECTS.md)'


@record
class ProjectRoot:
    root: Path
    project_id: str

    @property
    def config(self) -> Path:
        return self.root / CONFIG_NAME


def project_id(root: Path) -> str:
    """`myapp-3f2a9c1d`: the folder's name (made safe for an instance id) and a hash of its path."""
    from styxy.project import memo

    real = os.path.realpath(root)
    remembered = memo.project_id(real)
    if remembered is not None:
        return remembered
    import hashlib  # here: OpenSSL's start-up costs 2 ms, and the id is remembered

    digest = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    name = _NAME_TEXT.sub("-", os.path.basename(real)).strip(".-")[:NAME_LIMIT] or "project"
    return f"{name}-{digest}"


def locate(project: str | os.PathLike[str] | None, *, cwd: Path | None = None) -> ProjectRoot:
    """The project in folder `project` (it must hold `styxy.toml`), else the nearest one above."""
    if project:
        folder = Path(os.path.abspath(project))
        if not folder.is_dir():
            raise InvalidValueError(f"--project {project}: no such folder.")
        if not (folder / CONFIG_NAME).exists():
            raise NotFoundError(f"no {CONFIG_NAME} in {folder}; {CREATE}.")
        return ProjectRoot(folder, project_id(folder))
    start = Path(os.path.abspath(cwd or os.getcwd()))
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).exists():
            return ProjectRoot(folder, project_id(folder))
        if (folder / ".git").exists():
            where = (
                f"{start} (the worktree root)"
                if folder == start
                else f"{start} or above it up to the worktree root {folder}"
            )
            raise NotFoundError(f"no {CONFIG_NAME} in {where}; {CREATE} or pass --project DIR.")
    raise NotFoundError(
        f"no {CONFIG_NAME} in {start} or any folder above it; {CREATE} or pass --project DIR."
    )


def release_target(project: str | os.PathLike[str] | None) -> ProjectRoot:
    """The project whose leases `--release` ends: its folder may already be gone (a removed
    worktree), so an explicit DIR needs neither the folder nor its `styxy.toml`."""
    if project:
        folder = Path(os.path.abspath(project))
        return ProjectRoot(folder, project_id(folder))
    return locate(None)
