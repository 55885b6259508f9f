"""Where a document and its sidecar folder live (SPEC section 2)."""

from __future__ import annotations

import os
import sys
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

    @property
    def projects(self) -> Path:
        return self.sidecar / "projects.json"


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
    xdg = _xdg_data_dir()
    if xdg is not None:
        return Path(xdg).resolve()
    from platformdirs import user_data_dir  # imported here: not needed on the allocate path

    return Path(user_data_dir("styxy")).resolve()


def _xdg_data_dir() -> str | None:
    """platformdirs' answer on a plain Linux, from the XDG Base Directory rule it follows:
    `$XDG_DATA_HOME/styxy` when that is absolute, else `~/.local/share/styxy`.

    `check` looks for the IANA index here on every call, and importing platformdirs (it
    imports tempfile and shutil) costs a quarter of such a call. Anywhere the rule is not the
    plain one (macOS, Windows, Android, a HOME that is not absolute) platformdirs answers;
    tests/test_paths_data_dir.py holds both to the same folder.
    """
    home = os.environ.get("HOME", "")
    android = os.environ.get("ANDROID_DATA") == "/data" and os.environ.get("ANDROID_ROOT") == "/system"
    if sys.platform != "linux" or android or not os.path.isabs(home):
        return None
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = xdg if os.path.isabs(xdg) else os.path.join(home, ".local", "share")
    return os.path.join(base, "styxy")
