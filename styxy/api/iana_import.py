"""`styxy iana import`: fetch IANA's registry (a file or an http(s) URL), check it, store the index.

Everything is checked before anything is written: a file that is neither IANA's XML nor its
CSV, a truncated one, an oversized one or a failed download is refused with one sentence, and
the previous index stays byte for byte. The index is written atomically under a lock.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from styxy.errors import InvalidValueError
from styxy.system.iana import (
    IANA_URL,
    INDEX_VERSION,
    IanaError,
    Registration,
    index_path,
    load_index,
    read_bounded,
    read_file,
    registrations,
)
from styxy.system.iana_formats import NotARegistryError, Parsed, RegistryFormatError

# The registry is 3.8 MB of XML (0.5 MB gzipped); this bound leaves room for decades of growth
# and still refuses a runaway download or a decompression bomb before it fills memory.
MAX_REGISTRY_BYTES = 64 * 1024 * 1024
DOWNLOAD_TIMEOUT_SECONDS = 60
LOCK_TIMEOUT_SECONDS = 60

RegistryFormat = Literal["xml", "csv"]


def _download(url: str) -> bytes:
    import http.client
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
            data = read_bounded(response, MAX_REGISTRY_BYTES, url)
            promised = response.headers.get("Content-Length", "")
    except urllib.error.HTTPError as exc:
        raise IanaError(f"could not download {url}: HTTP {exc.code} {exc.reason}.") from None
    except urllib.error.URLError as exc:
        raise IanaError(f"could not download {url}: {exc.reason}.") from None
    except (http.client.HTTPException, OSError) as exc:
        # IncompleteRead: the server closed the connection before Content-Length was reached.
        raise IanaError(f"could not download {url}: {type(exc).__name__} {exc}.") from None
    # A sized read returns what arrived when the server hangs up early; compare with its promise.
    if promised.isdigit() and len(data) < int(promised):
        raise IanaError(
            f"could not download {url}: the connection closed after {len(data)} of {promised} bytes."
        )
    return data


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def fetch(source: str) -> bytes:
    """The bytes of a registry file or http(s) URL, gunzipped when gzipped, size-bounded."""
    if "://" in source and not _is_url(source):
        raise InvalidValueError(f"only http:// and https:// URLs can be imported, not {source!r}.")
    if _is_url(source):
        data = _download(source)
    else:
        data = read_file(source, MAX_REGISTRY_BYTES)
    if data[:2] == b"\x1f\x8b":  # gzip magic: decide by content, not by name
        import gzip
        import io

        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as unzipped:
                data = read_bounded(unzipped, MAX_REGISTRY_BYTES, f"{source} (unzipped)")
        except (OSError, EOFError) as exc:
            raise IanaError(f"{source} is a damaged gzip file ({exc}).") from None
    return data


def parse(data: bytes, source: str) -> tuple[RegistryFormat, Parsed]:
    """Decide XML or CSV by content and read it; refuse anything else with one sentence."""
    from styxy.system import iana_formats

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise IanaError(f"{source} is neither IANA's XML nor its CSV registry.") from None
    head = text.lstrip("\ufeff \t\r\n")[:1]
    try:
        if head == "<":
            found = iana_formats.read_xml(data)
            kind: RegistryFormat = "xml"
        elif iana_formats.looks_like_csv(text):
            found = iana_formats.read_csv(text)
            kind = "csv"
        else:
            raise IanaError(f"{source} is neither IANA's XML nor its CSV registry.")
    except NotARegistryError:
        raise IanaError(f"{source} is neither IANA's XML nor its CSV registry.") from None
    except RegistryFormatError as exc:
        raise IanaError(f"{source} was refused: {exc.message}.") from None
    if not found.records:
        raise IanaError(f"{source} was refused: it holds no port assignments.")
    return kind, found


def load(path: str | os.PathLike[str]) -> tuple[Registration, ...]:
    """Every registration in the registry file at `path` (XML or CSV, maybe gzipped)."""
    _, found = parse(fetch(os.fspath(path)), os.fspath(path))
    return tuple(registrations(found.records))


def updated(path: str | os.PathLike[str]) -> str:
    """The registry's own date (YYYY-MM-DD)."""
    return parse(fetch(os.fspath(path)), os.fspath(path))[1].updated


@dataclass(frozen=True)
class Imported:
    path: str
    origin: str
    format: RegistryFormat
    updated: str
    records: int
    replaced: str  # the date of the index this one replaced; "" when there was none

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "origin": self.origin,
            "format": self.format,
            "updated": self.updated,
            "records": self.records,
            "replaced": self.replaced,
        }


def import_registry(source: str) -> Imported:
    """Read, check and store a registry; on any refusal the previous index stays as it was."""
    from styxy.store import atomic, lockfile, sidecar

    kind, found = parse(fetch(source), source)
    origin = source if _is_url(source) else os.path.abspath(source)
    imported_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    data = index_bytes(kind, found, origin, imported_at)
    path = index_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Two imports at once: each writes a whole index and the last one wins, never a mix. The
    # same lock as the sidecar's (a timeout names the import in the way).
    folder = sidecar.open_sidecar(path.parent, create=False, label="the data folder")
    assert folder is not None  # made just above
    with folder, lockfile.hold(
        folder, name=path.name + ".lock", timeout=LOCK_TIMEOUT_SECONDS, on_wait=lambda _: None
    ):
        replaced = _previous_date(path)
        atomic.write_bytes(path, data)
    return Imported(str(path), origin, kind, found.updated, len(found.records), replaced)


def index_bytes(kind: RegistryFormat, found: Parsed, origin: str, imported_at: str) -> bytes:
    """The compact index: what lookups need of each record, the registry's date and origin."""
    body = {
        "styxyIanaIndex": INDEX_VERSION,
        "updated": found.updated,
        "format": kind,
        "origin": origin,
        "importedAt": imported_at,
        "records": [[r.name, r.protocol, r.low, r.high, r.description] for r in found.records],
    }
    return (json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def shipped_index_bytes(source: str) -> bytes:
    """The index that ships inside the package, built from IANA's registry at `source` by the
    importer above and gzipped. Its origin is IANA's own URL, and it is stamped with the
    registry's date rather than the time it was built, so building it twice from the same
    registry gives the same JSON."""
    import gzip

    kind, found = parse(fetch(source), source)
    data = index_bytes(kind, found, IANA_URL, found.updated)
    return gzip.compress(data, compresslevel=9, mtime=0)


def _previous_date(path: Path) -> str:
    try:
        return load_index(path).source.updated
    except (FileNotFoundError, IanaError):
        return ""


