"""The kernel bind programs' maps (SPEC section 16), kept current from the transaction's data.

`styxy interceptor bpf attach` pins the maps of `interceptor/bpf/styxy_bind.bpf.c` in a bpffs
folder named after the cache they mirror (`/run/styxy/bpf/<crc32 of the cache path>`), owned by
the user with mode 0660. Every commit writes into them, through the bpf() system call on the
pinned maps (ctypes on libc's `syscall`: a few dozen calls of a microsecond each, no process
to start), the same ranges and live leases as the compiled cache; the moves the program made
are read back here and become leases as the preload library's journal lines do.

Every decision the program makes on a busy port is also an event in its ring buffer (written
with BPF_RB_NO_WAKEUP: no reader is woken per bind). Nobody waits on it: every commit drains it
into a short log in the sidecar (`bpf-events`, the last EVENTS_KEPT), and `styxy interceptor bpf
status` and `doctor` show that log plus what the ring holds now, read without consuming it.

When nothing is attached, all of this costs one stat() of the pin folder per commit
(`styxy.store.bpfpins`, which imports nothing). The layouts mirror `interceptor/bpf/styxy_bpf.h`.
"""

from __future__ import annotations

import errno
import json
import mmap
import os
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from styxy.errors import StyxyError
from styxy.store.bpfpins import PIN_ROOT, attached, pin_folder, pin_root

if TYPE_CHECKING:
    import ctypes

__all__ = ["PIN_ROOT", "attached", "pin_folder", "pin_root"]  # where the maps are: bpfpins
MAX_RANGES = 256
MAX_LEASES = 4096
MAX_ADDRS = 4
NO_RANGE = 0xFFFFFFFF
FLAG_SINGLE = 1
DEFAULT_HOLD_MS = 3000
# Outcomes of a watched bind on a busy port (styxy_bpf.h), as events and status name them.
MOVED = 1
OUTCOMES = {1: "moved", 2: "single-instance", 3: "range-full"}
STATS = 5  # watched, busy, moved, kept, dropped (events the full ring could not take)
EVENTS_FILE = "bpf-events"  # in the sidecar: the ring's last events, drained by each commit
EVENTS_KEPT = 32

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
_BPF_OBJ_GET_INFO_BY_FD = 15
_RINGBUF_BUSY = 1 << 31  # a record's length word: still being written
_RINGBUF_DISCARD = 1 << 30  # dropped by the program: skip it
_RINGBUF_HEADER = 8
_NR_BPF = {"x86_64": 321, "aarch64": 280}


class BpfMapError(StyxyError):
    """A pinned map could not be read or written."""


def boot_time() -> int:
    """The wall-clock second the machine booted (/proc/stat `btime`): the kernel's clock for
    moves and events is CLOCK_BOOTTIME, and this one fixed number turns it into the same wall
    time in every process (a difference of two clocks read now would wobble by microseconds
    and could tip a whole second, and with it the lock id of a move, see `Move.journal_line`)."""
    with open("/proc/stat", "rb") as stat:
        for line in stat:
            if line.startswith(b"btime "):
                return int(line.split()[1])
    raise BpfMapError("/proc/stat has no btime line")


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
    boot_ns: int  # the kernel's time of the move: which move a folded one was (`forget`)

    def journal_line(self) -> bytes:
        """The move as the preload library's journal writes one (docs/CACHE_FORMAT.md), so the
        same rules turn it into a lease, and the same lock id: a move's lease has the id derived
        from its journal record, so every line made of one move must be the same bytes in every
        process and at every read, before the fold and at it. Each field is fixed by the move
        itself: the pid, both ports, the range of the given port, and the second of the move
        (boot time + the kernel's boot clock)."""
        return (
            f"1 {self.port} {self.pid} {self.requested} {self.service_type} "
            f"{int(self.created_at)}\n"
        ).encode()


@dataclass(frozen=True)
class Event:
    """A decision of the program on a busy port, from its ring buffer."""

    boot_ns: int
    at: float  # wall-clock time
    pid: int
    uid: int
    requested: int
    given: int | None  # None when the bind was left to fail
    service_type: str
    outcome: str  # one of OUTCOMES' values
    comm: str

    @property
    def key(self) -> tuple[int, int, int, str]:
        return (self.boot_ns, self.pid, self.requested, self.outcome)

    def to_json(self) -> dict[str, object]:
        return {
            "time": self.at,
            "pid": self.pid,
            "uid": self.uid,
            "process": self.comm,
            "requested": self.requested,
            "given": self.given,
            "serviceType": self.service_type,
            "outcome": self.outcome,
            "bootNs": self.boot_ns,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Event:
        given = data["given"]
        return cls(
            boot_ns=int(str(data["bootNs"])),
            at=float(str(data["time"])),
            pid=int(str(data["pid"])),
            uid=int(str(data["uid"])),
            requested=int(str(data["requested"])),
            given=None if given is None else int(str(given)),
            service_type=str(data["serviceType"]),
            outcome=str(data["outcome"]),
            comm=str(data["process"]),
        )


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
            why = exc.strerror or str(exc)
            if exc.errno in (errno.EACCES, errno.EPERM):
                why += "; they belong to the user `styxy interceptor bpf attach --user` named"
            raise BpfMapError(f"cannot open the pinned map {path}: {why}.") from None

    def max_entries(self, fd: int) -> int:
        """The map's max_entries (a ring buffer's size in bytes), from BPF_OBJ_GET_INFO_BY_FD."""
        import ctypes

        info = ctypes.create_string_buffer(24)  # type, id, key, value sizes, max_entries, flags
        self.call(_BPF_OBJ_GET_INFO_BY_FD, struct.pack("<IIQ", fd, 24, ctypes.addressof(info)))
        return int(struct.unpack_from("<I", info.raw, 16)[0])

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

    def _ranges(self) -> list[tuple[int, int, str]]:
        """(start, end, name) of every range the program sees, in the maps' order."""
        count = min(self.settings()[0], MAX_RANGES)
        found = []
        for index in range(count):
            raw = self._bpf.lookup(self.fd("ranges"), _U32.pack(index), _RANGE.size)
            if raw is None:
                continue
            name, start, end, _flags = _RANGE.unpack(raw)
            found.append((start, end, name.split(b"\0", 1)[0].decode("ascii", "replace")))
        return found

    def moves(self) -> list[Move]:
        """Every move waiting in the moves map, with the service type of its range.

        The type is the range that holds the port given, not the range index the program
        recorded: a commit that inserts a row renumbers the ranges, and the same move must make
        the same journal line (and lock id) before that commit and after it.
        """
        fd = self.fd("moves")
        found: list[Move] = []
        ranges: list[tuple[int, int, str]] | None = None
        booted = None
        for key in self._bpf.keys(fd, 4):
            raw = self._bpf.lookup(fd, key, _MOVE.size)
            if raw is None:
                continue
            boot_ns, pid, _uid, requested, given, _index, outcome, comm = _MOVE.unpack(raw)
            if outcome != MOVED or given == 0:
                continue
            if ranges is None:
                ranges, booted = self._ranges(), boot_time()
            service = next((name for lo, hi, name in ranges if lo <= given <= hi), "dev")
            found.append(
                Move(
                    port=given,
                    pid=pid,
                    requested=requested,
                    service_type=service or "dev",
                    created_at=(booted or 0) + boot_ns / 1e9,
                    comm=_text(comm),
                    boot_ns=boot_ns,
                )
            )
        return found

    def forget(self, moves: Iterable[Move]) -> None:
        """Drop folded moves; a newer move onto the same port made meanwhile stays."""
        fd = self.fd("moves")
        for move in moves:
            raw = self._bpf.lookup(fd, _U32.pack(move.port), _MOVE.size)
            if raw is not None and _MOVE.unpack(raw)[0] == move.boot_ns:
                self._bpf.delete(fd, _U32.pack(move.port))

    def stats(self) -> tuple[int, ...]:
        """(watched, busy, moved, kept, dropped) binds since the attach."""
        fd = self.fd("stats")
        values = []
        for index in range(STATS):
            raw = self._bpf.lookup(fd, _U32.pack(index), 8)
            values.append(_U64.unpack(raw)[0] if raw else 0)
        return tuple(values)

    # ------------------------------------------------------------------ the ring buffer

    def ring_events(self) -> tuple[list[Event], int]:
        """The events the ring holds now, oldest first, and the position after the last one.

        Read through a read-only mapping of the ring without moving its consumer position, so a
        read-only command (`status`, `doctor`) leaves them for the next commit to drain
        (`drain_events`). A record still being written ends the read.
        """
        fd = self.fd("events")
        size = self._bpf.max_entries(fd)
        page = mmap.PAGESIZE
        with mmap.mmap(fd, page, mmap.MAP_SHARED, mmap.PROT_READ) as consumer, mmap.mmap(
            fd, page + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ, offset=page
        ) as data:
            # The data area follows the producer page and is mapped twice in a row, so a
            # record that wraps around the end reads as one piece.
            position = struct.unpack_from("<Q", consumer, 0)[0]
            produced = struct.unpack_from("<Q", data, 0)[0]
            raws: list[bytes] = []
            while position < produced:
                offset = page + (position & (size - 1))
                length, _page_offset = struct.unpack_from("<II", data, offset)
                if length & _RINGBUF_BUSY:
                    break
                body = length & ~(_RINGBUF_BUSY | _RINGBUF_DISCARD)
                if not length & _RINGBUF_DISCARD and body >= _MOVE.size:
                    start = offset + _RINGBUF_HEADER
                    raws.append(bytes(data[start : start + _MOVE.size]))
                position += (body + _RINGBUF_HEADER + 7) & ~7
        return self._events(raws), position

    def _events(self, raws: list[bytes]) -> list[Event]:
        if not raws:
            return []
        booted = boot_time()
        names: dict[int, str] = {}
        found = []
        for raw in raws:
            boot_ns, pid, uid, requested, given, index, outcome, comm = _MOVE.unpack(raw)
            if index not in names:
                entry = self._bpf.lookup(self.fd("ranges"), _U32.pack(index), _RANGE.size)
                names[index] = (
                    entry[:64].split(b"\0", 1)[0].decode("ascii", "replace") if entry else ""
                )
            found.append(
                Event(
                    boot_ns=boot_ns,
                    at=booted + boot_ns / 1e9,
                    pid=pid,
                    uid=uid,
                    requested=requested,
                    given=given or None,
                    service_type=names[index] or "dev",
                    outcome=OUTCOMES.get(outcome, f"outcome-{outcome}"),
                    comm=_text(comm),
                )
            )
        return found

    def consume(self, position: int) -> None:
        """Tell the kernel the ring is read up to `position`: its space is free again."""
        fd = self.fd("events")
        with mmap.mmap(fd, mmap.PAGESIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as page:
            if struct.unpack_from("<Q", page, 0)[0] < position:
                struct.pack_into("<Q", page, 0, position)

    def drain_events(self, log: Path, *, dir_fd: int | None = None) -> None:
        """Move the ring's events into the sidecar's log (the last EVENTS_KEPT), then free
        them in the ring: a crash in between shows an event twice at worst, never loses one.
        Called by the commit, under the lock; `dir_fd` is the sidecar it opened, through which
        the log is read and replaced (styxy.store.sidecar)."""
        from styxy.store import atomic, fsio

        fresh, position = self.ring_events()
        if not fresh:
            return
        kept = merge_events(read_events(log, dir_fd=dir_fd), fresh)
        data = "".join(json.dumps(e.to_json(), sort_keys=True) + "\n" for e in kept).encode()
        if dir_fd is None:
            atomic.write_bytes(log, data, mode=fsio.PRIVATE_FILE_MODE, sync_folder=False)
        else:
            atomic.stage_in(dir_fd, log, data, mode=fsio.PRIVATE_FILE_MODE).publish()
        self.consume(position)

    def recent_events(self, log: Path) -> list[Event]:
        """The log and the ring's undrained events together, oldest first, without the lock."""
        return merge_events(read_events(log), self.ring_events()[0])


def read_events(log: Path, *, dir_fd: int | None = None) -> list[Event]:
    """The sidecar's event log; a missing or damaged one is empty (it only explains)."""
    from styxy.store import fsio

    kind = fsio.FileKind("the kernel program's event log", 1024 * 1024)
    try:
        data = fsio.read_bytes(log, kind, follow_links=False, private=True, dir_fd=dir_fd)
    except (OSError, StyxyError):
        return []
    found = []
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            # fsio's decoder: a line of a million `[` is a damaged line, not a RecursionError.
            found.append(Event.from_json(fsio.loads_json(line.encode(), "the line")))
        except (ValueError, KeyError, TypeError):
            continue
    return found


def merge_events(old: Sequence[Event], new: Sequence[Event]) -> list[Event]:
    """Both lists in order of time without repeats, the last EVENTS_KEPT."""
    seen: dict[tuple[int, int, int, str], Event] = {}
    for event in (*old, *new):
        seen.setdefault(event.key, event)
    return sorted(seen.values(), key=lambda e: e.at)[-EVENTS_KEPT:]


def _text(comm: bytes) -> str:
    """A process name from the kernel (16 bytes, any bytes): printable, for the terminal."""
    name = comm.split(b"\0", 1)[0].decode("ascii", "replace")
    return "".join(c if c.isprintable() and c != " " else "_" for c in name)


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
