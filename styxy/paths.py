"""Where a document and its sidecar folder live (SPEC section 2)."""

from __future__ import annotations

import os
from pathlib import Path

from styxy.errors import NotFoundError
from styxy.records import record

DEFAULT_DOC = Path("~/docs/CORE/PORT_MANAGEMENT.md")
SIDECAR = ".styxy"


@record
class Paths:
    """The document and the machine-local files beside it."""

    doc: Path
    # Only the default location is created on first use (SPEC section 10): a `--doc` or
    # `$STYXY_DOC` with a typo must not silently start a new, empty map of ports.
    may_create: bool = False

    @property
    def sidecar(self) -> Path:
        return self.doc.parent / SIDECAR

    @property
    def lock(self) -> Path:
        return self.sidecar / "lock"

    @property
    def leases(self) -> Path:
        return self.sidecar / "leases.json"

    @property
    def cache(self) -> Path:
        return self.sidecar / "cache.bin"

    @property
    def journal(self) -> Path:
        return self.sidecar / "journal"


def resolve(doc: str | os.PathLike[str] | None = None) -> Paths:
    """`--doc`, else `$STYXY_DOC`, else the default in the home folder; always absolute."""
    chosen = doc if doc else os.environ.get("STYXY_DOC") or None
    if chosen:
        return Paths(Path(os.path.abspath(Path(chosen).expanduser())))
    return Paths(Path(os.path.abspath(DEFAULT_DOC.expanduser())), may_create=True)


def missing_document(paths: Paths) -> NotFoundError:
    """The refusal for a named document that does not exist, with the command that makes it."""
    import shlex

    return NotFoundError(
        f"no document at {paths.doc}; create it with: styxy init --doc {shlex.quote(str(paths.doc))}"
    )


def display(path: Path) -> str:
    """A path as a user would type it: `~/...` for the home folder."""
    home = str(Path.home())
    text = str(path)
    if home not in ("", "/") and text.startswith(home + os.sep):
        return "~" + text[len(home) :]
    return text


def data_dir() -> Path:
    """The per-user data folder (built interceptor, IANA index): `$STYXY_DATA_DIR`, else
    platformdirs' user_data_dir."""
    override = os.environ.get("STYXY_DATA_DIR")
    if override:
        return Path(override).expanduser().resolve()
    from platformdirs import user_data_dir  # imported here: not needed on the allocate path

    return Path(user_data_dir("styxy")).resolve()
