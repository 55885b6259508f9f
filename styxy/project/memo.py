"""What `styxy.toml` said last time, remembered per project root in the user's data folder.

`eval "$(styxy env)"` runs on every `cd` into a project (a direnv `.envrc`), and most of its
start-up was the TOML parser (tomllib and the `typing` it imports: about 6 ms) and hashlib
(OpenSSL's start-up: about 2 ms), for a file that rarely changes. So the checked services and
the project id are kept in `<data folder>/projects/<crc of the root>.json`, and used while the
file's bytes are the ones they were read from (same size and CRC-32) and styxy's version and
the service record's fields are the same; anything else (no memo, another file, a memo that
does not decode as expected) parses the file again and writes a new memo. A file with
problems is never remembered, so its `PATH:LINE` diagnostics always come from the parser.

The memo is a cache: writing it is best effort (a read-only home only costs the parse), it is
replaced atomically, and what it holds is a pure function of the bytes and the root, so two
commands writing it at once write the same thing and need no lock.
"""

from __future__ import annotations

import json
import zlib

from styxy import __version__
from styxy.errors import StyxyError
from styxy.project.config import ProjectConfig, Service
from styxy.records import fields

FORMAT = 1
MAX_MEMO_BYTES = 1 << 20

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

_read: dict[str, dict[str, Any] | None] = {}  # memos this process read, by root


def _file(real_root: str) -> Path:
    from styxy.paths import data_dir

    name = f"{zlib.crc32(real_root.encode('utf-8', 'surrogateescape')):08x}.json"
    return data_dir() / "projects" / name


def _memo(real_root: str) -> dict[str, Any] | None:
    """The memo of the project at `real_root`, when there is one written by this styxy."""
    if real_root not in _read:
        _read[real_root] = None
        try:
            with open(_file(real_root), "rb") as handle:
                body = json.loads(handle.read(MAX_MEMO_BYTES))
        except (OSError, ValueError):
            return None
        if (
            isinstance(body, dict)
            and body.get("format") == FORMAT
            and body.get("styxy") == __version__
            and body.get("root") == real_root
        ):
            _read[real_root] = body
    return _read[real_root]


def project_id(real_root: str) -> str | None:
    """The id remembered for the root at `real_root` (its real path)."""
    memo = _memo(real_root)
    found = None if memo is None else memo.get("id")
    return found if isinstance(found, str) else None


def config(real_root: str, data: bytes, path: str) -> ProjectConfig | None:
    """The services of `styxy.toml` remembered for these very bytes, or None."""
    memo = _memo(real_root)
    if memo is None or memo.get("stamp") != _stamp(data) or memo.get("fields") != _fields():
        return None
    rows = memo.get("services")
    if not isinstance(rows, list) or not all(_plain(row) for row in rows):
        return None
    return ProjectConfig(path, tuple(Service(*row) for row in rows))


def remember(real_root: str, project_id: str, data: bytes, config: ProjectConfig) -> None:
    """Keep what the parser said of `data`, for the next command; never fails the command."""
    body = {
        "format": FORMAT,
        "styxy": __version__,
        "root": real_root,
        "id": project_id,
        "stamp": _stamp(data),
        "fields": _fields(),
        "services": [[getattr(s, name) for name in _fields()] for s in config.services],
    }
    if _memo(real_root) == body:
        return
    try:
        from styxy.api import files

        target = _file(real_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        files.write_bytes(target, json.dumps(body).encode(), mode=0o600)
    except (OSError, ValueError, StyxyError):
        pass  # a read-only data folder, say: the next command parses the file again
    _read[real_root] = body


def _stamp(data: bytes) -> list[int]:
    return [len(data), zlib.crc32(data)]


def _fields() -> list[str]:
    return list(fields(Service))


_TYPES = {"str": str, "int": int, "None": type(None)}


def _plain(row: object) -> bool:
    """One service as the memo stores it: a value per field, of the field's declared type
    (`str`, `int`, `int | None`; a field of any other type is never taken from a memo)."""
    if not isinstance(row, list) or len(row) != len(_fields()):
        return False
    declared = Service.__annotations__
    for name, value in zip(_fields(), row, strict=True):
        kinds = [_TYPES.get(part.strip()) for part in str(declared[name]).split("|")]
        if None in kinds or type(value) not in kinds:
            return False
    return True
