"""The kernel bind programs' maps (SPEC section 16), kept current from the transaction's data.

`styxy interceptor bpf attach` pins the maps of `interceptor/bpf/styxy_bind.bpf.c` in a bpffs
folder named after the cache they mirror (`/run/styxy/bpf/<crc32 of the cache path>`), owned by
the user with mode 0660. Every commit writes into them, through the bpf() system call on the
pinned maps (ctypes on libc's `syscall`: a few dozen calls of a microsecond each, no process
to start), the same ranges and live leases as the compiled cache; the moves the program made
are read back here and become leases as the preload library's journal lines do.

When nothing is attached, all of this costs one stat() of the pin folder per commit.
The layouts mirror `interceptor/bpf/styxy_bpf.h`.
"""

from __future__ import annotations

import errno
import os
import struct
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from styxy.errors import StyxyError

if TYPE_CHECKING:
    import ctypes

PIN_ROOT = Path("/run/styxy/bpf")
MAX_RANGES = 256
MAX_LEASES = 4096
MAX_ADDRS = 4
NO_RANGE = 0xFFFFFFFF
FLAG_SINGLE = 1
DEFAULT_HOLD_MS = 3000
MOVED = 1

_SETTINGS = struct.Struct(f"<IIII{MAX_ADDRS}II{MAX_ADDRS * 4}I4xQ")
_RANGE = struct.Struct("<64sHHI")
_MOVE = struct.Struct("<QIIIIII16s")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")

# bpf(2) commands and the x86-64 / arm64 system call numbers
_BPF_MAP_LOOKUP_ELEM = 1
_BPF_MAP_UPDATE_ELEM = 2
_BPF_MAP_DELETE_ELEM = 3
_BPF_MAP_GET_NEXT_KEY = 4
_BPF_OBJ_GET = 7
_NR_BPF = {"x86_64": 321, "aarch64": 280}


class BpfMapError(StyxyError):
    """A pinned map could not be read or written."""


def pin_root() -> Path:
    """`$STYXY_BPF_ROOT` (tests), else /run/styxy/bpf: a bpffs that vanishes at reboot as the
    attached programs do."""
    return Path(os.environ.get("STYXY_BPF_ROOT") or PIN_ROOT)


def pin_folder(cache_path: Path) -> Path:
    """The pin folder of the maps that mirror the cache at `cache_path`."""
    return pin_root() / f"{zlib.crc32(str(cache_path).encode()):08x}"


def attached(cache_path: Path) -> bool:
    """One stat(): the whole cost of the kernel half when nothing is attached."""
    try:
        os.stat(pin_folder(cache_path))
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class Range:
    name: str
    start: int
    end: int
    single: bool


@dataclass(frozen=True)
class Move:
    """A move the program made, as the moves map holds it until a transaction folds it."""

    port: int
    pid: int
    requested: int
    service_type: str
    created_at: float
    comm: str

    def journal_line(self) -> bytes:
        """The move as the preload library's journal writes one (docs/CACHE_FORMAT.md), so the
        same rules turn it into a lease."""
        return (
            f"1 {self.port} {self.pid} {self.requested} {self.service_type} "
            f"{int(self.created_at)}\n"
        ).encode()


class _Bpf:
    """The bpf() system call on pinned maps."""

    def __init__(self) -> None:
        import ctypes  # only once something is attached: the allocate path never pays for it

        self._libc = ctypes.CDLL(None, use_errno=True)
        self._libc.syscall.restype = ctypes.c_long
        number = _NR_BPF.get(os.uname().machine)
        if number is None:
            raise BpfMapError(f"the bpf() system call number of {os.uname().machine} is unknown")
        self._nr = number

    def call(self, cmd: int, attr: bytes) -> int:
        import ctypes

        buf = ctypes.create_string_buffer(attr, 128)
        rc = int(self._libc.syscall(self._nr, cmd, buf, 128))
        if rc < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        return rc

    def open(self, path: Path) -> int:
        import ctypes

        name = ctypes.create_string_buffer(os.fsencode(path))
        try:
            return self.call(_BPF_OBJ_GET, struct.pack("<QIIi", ctypes.addressof(name), 0, 0, 0))
        except OSError as exc:
            raise BpfMapError(f"cannot open the pinned map {path}: {exc.strerror}") from None

    def _elem(self, cmd: int, fd: int, key: bytes, value: ctypes.Array[ctypes.c_char] | None) -> None:
        import ctypes

        k = ctypes.create_string_buffer(key, len(key))
        v = ctypes.addressof(value) if value is not None else 0
        self.call(cmd, struct.pack("<I4xQQQ", fd, ctypes.addressof(k), v, 0))

    def lookup(self, fd: int, key: bytes, size: int) -> bytes | None:
        import ctypes

        value = ctypes.create_string_buffer(size)
        try:
            self._elem(_BPF_MAP_LOOKUP_ELEM, fd, key, value)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise
        return value.raw

    def update(self, fd: int, key: bytes, value: bytes) -> None:
        import ctypes

        self._elem(_BPF_MAP_UPDATE_ELEM, fd, key, ctypes.create_string_buffer(value, len(value)))

    def delete(self, fd: int, key: bytes) -> None:
        try:
            self._elem(_BPF_MAP_DELETE_ELEM, fd, key, None)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise

    def keys(self, fd: int, size: int) -> list[bytes]:
        import ctypes

        found: list[bytes] = []
        key: bytes | None = None
        while len(found) <= MAX_LEASES:
            nxt = ctypes.create_string_buffer(size)
            k = ctypes.create_string_buffer(key, size) if key is not None else None
            attr = struct.pack(
                "<I4xQQQ", fd, ctypes.addressof(k) if k is not None else 0, ctypes.addressof(nxt), 0
            )
            try:
                self.call(_BPF_MAP_GET_NEXT_KEY, attr)
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    break
                raise
            key = nxt.raw
            found.append(key)
        return found


class Maps:
    """The pinned maps of one attachment, opened for one piece of work."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._bpf = _Bpf()
        self._fds: dict[str, int] = {}

    def __enter__(self) -> Maps:
        return self

    def __exit__(self, *exc: object) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def fd(self, name: str) -> int:
        if name not in self._fds:
            self._fds[name] = self._bpf.open(self.folder / name)
        return self._fds[name]

    def settings(self) -> tuple[int, ...]:
        raw = self._bpf.lookup(self.fd("settings"), _U32.pack(0), _SETTINGS.size)
        if raw is None:
            raise BpfMapError(f"the settings map in {self.folder} is empty")
        return _SETTINGS.unpack(raw)

    def write(self, ranges: Sequence[Range], leases: Iterable[tuple[int, int]], generation: int) -> None:
        """Ranges (document order, as the cache), the live leases (port -> holder pid)."""
        ranges = list(ranges)[:MAX_RANGES]
        fd = self.fd("ranges")
        for index, r in enumerate(ranges):
            flags = FLAG_SINGLE if r.single else 0
            self._bpf.update(
                fd, _U32.pack(index), _RANGE.pack(r.name.encode()[:63], r.start, r.end, flags)
            )
        wanted = {port: pid for port, pid in leases}
        fd = self.fd("leases")
        for key in self._bpf.keys(fd, 4):
            if _U32.unpack(key)[0] not in wanted:
                self._bpf.delete(fd, key)
        for port, pid in list(wanted.items())[:MAX_LEASES]:
            self._bpf.update(fd, _U32.pack(port), _U32.pack(pid))
        old = self.settings()
        hold_ms = old[2] or DEFAULT_HOLD_MS
        default = next((i for i, r in enumerate(ranges) if r.name == "dev"), NO_RANGE)
        v4, v6 = interface_addresses()
        fields = [len(ranges), default, hold_ms, len(v4), *v4, *[0] * (MAX_ADDRS - len(v4))]
        fields += [len(v6)]
        for address in v6:
            fields += list(struct.unpack("<4I", address))
        fields += [0] * (4 * (MAX_ADDRS - len(v6)))
        fields.append(generation)
        self._bpf.update(self.fd("settings"), _U32.pack(0), _SETTINGS.pack(*fields))

    def moves(self) -> list[Move]:
        """Every move waiting in the moves map, with the service type of its range."""
        fd = self.fd("moves")
        found: list[Move] = []
        names: dict[int, str] = {}
        offset = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
        for key in self._bpf.keys(fd, 4):
            raw = self._bpf.lookup(fd, key, _MOVE.size)
            if raw is None:
                continue
            boot_ns, pid, _uid, requested, given, index, outcome, comm = _MOVE.unpack(raw)
            if outcome != MOVED or given == 0:
                continue
            if index not in names:
                entry = self._bpf.lookup(self.fd("ranges"), _U32.pack(index), _RANGE.size)
                names[index] = entry[:64].split(b"\0", 1)[0].decode("ascii", "replace") if entry else ""
            found.append(
                Move(
                    port=given,
                    pid=pid,
                    requested=requested,
                    service_type=names[index] or "dev",
                    created_at=offset + boot_ns / 1e9,
                    comm=comm.split(b"\0", 1)[0].decode("ascii", "replace"),
                )
            )
        return found

    def forget(self, moves: Iterable[Move]) -> None:
        """Drop folded moves; a move made again meanwhile onto the same port stays if newer."""
        fd = self.fd("moves")
        for move in moves:
            self._bpf.delete(fd, _U32.pack(move.port))

    def stats(self) -> tuple[int, int, int, int]:
        """(watched, busy, moved, kept) binds since the attach."""
        fd = self.fd("stats")
        values = []
        for index in range(4):
            raw = self._bpf.lookup(fd, _U32.pack(index), 8)
            values.append(_U64.unpack(raw)[0] if raw else 0)
        return values[0], values[1], values[2], values[3]


def interface_addresses() -> tuple[list[int], list[bytes]]:
    """Up to four IPv4 (as the kernel's u32 in network order) and four global IPv6 addresses
    of the machine's interfaces, besides loopback: a listener there blocks a wildcard bind."""
    import ipaddress
    import socket

    import psutil

    v4: list[int] = []
    v6: list[bytes] = []
    for addresses in psutil.net_if_addrs().values():
        for item in addresses:
            if item.family == socket.AF_INET and len(v4) < MAX_ADDRS:
                ip4 = ipaddress.IPv4Address(item.address)
                if not ip4.is_loopback:
                    v4.append(struct.unpack("<I", ip4.packed)[0])
            elif item.family == socket.AF_INET6 and len(v6) < MAX_ADDRS:
                ip6 = ipaddress.IPv6Address(item.address.split("%", 1)[0])
                if not (ip6.is_loopback or ip6.is_link_local):
                    v6.append(ip6.packed)
    return v4, v6
