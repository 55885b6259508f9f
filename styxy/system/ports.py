"""The operating system's view of ports and processes.

Knows nothing of leases or documents: it answers "does something listen here", "who", "which
ports does the kernel hand out on its own" and "is this process still the one we recorded".

Nothing here binds a port where the kernel can be asked instead: a probe that binds the port
makes a program binding it at the same moment fail with EADDRINUSE. `is_listening` sits on the
allocate hot path, so it reads the kernel's socket tables (/proc/net/tcp and tcp6) itself and
never imports psutil; everything that needs owners imports psutil lazily, inside the function.
"""

from __future__ import annotations

# The C module under `socket`: netlink needs only its socket type and constants, and the
# `socket` module's enum conversions cost about 2 ms of every command's start.
import _socket
import errno
import os
import struct

from styxy.errors import InvalidValueError
from styxy.records import record
from styxy.vocabulary import MAX_PORT

EPHEMERAL_PATH = "/proc/sys/net/ipv4/ip_local_port_range"
# The four addresses SPEC section 4 names: a listener on any of them makes a port unusable.
PROBE_ADDRESSES: tuple[tuple[int, str], ...] = (
    (_socket.AF_INET, "127.0.0.1"),
    (_socket.AF_INET, "0.0.0.0"),
    (_socket.AF_INET6, "::1"),
    (_socket.AF_INET6, "::"),
)
# /proc/net/tcp{,6} state code of a listening socket.
_PROC_LISTEN = b"0A"
# psutil's create_time is derived from clock ticks since boot; two readings of the same process
# can differ by a tick, a reused pid differs by far more.
START_TIME_TOLERANCE = 0.01


@record
class Listener:
    """One listening TCP socket."""

    port: int
    address: str
    pid: int | None
    process: str | None


# ---------------------------------------------------------------------------------------------
# Is the port taken? (hot path: no psutil)


def _bind_probe(family: int, address: str, port: int) -> bool | None:
    """True when bind() says the port is in use, False when it binds, None when it can't tell.

    The last resort of `is_listening` only (see there): binding disturbs a program that binds
    the same port at the same moment.
    """
    import socket

    try:
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError:
        return None  # the machine lacks this address family
    try:
        # SO_REUSEADDR: a TIME_WAIT leftover is not a listener and must not count as one.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        return False
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return True
        return None  # EADDRNOTAVAIL (no ::1), EACCES (privileged port), ...
    finally:
        sock.close()


def is_listening(port: int) -> bool:
    """Whether something listens on `port` (any address: 127.0.0.1, 0.0.0.0, ::1, ::, ...).

    Asked of the kernel without touching the port: its socket diagnostics over netlink on
    Linux (a fraction of a millisecond: the kernel walks only its listening sockets), else
    /proc/net/tcp and tcp6 (which walk every connection bucket: 10-30 ms on some kernels),
    else psutil's system-wide table. Only where neither can answer (no /proc
    and psutil refused, as macOS refuses an unprivileged user) does a bind() probe on the four
    addresses SPEC section 4 names decide.
    """
    if not 1 <= port <= MAX_PORT:  # bind() would raise OverflowError, or pick a port for port 0
        raise InvalidValueError(f"port must be between 1 and {MAX_PORT}, got {port}")
    answer = _netlink_listening(port)
    if answer is None:
        answer = _proc_listening(port)
    if answer is None:
        answer = _psutil_listening(port)
    if answer is None:
        answer = _probe_listening(port)
    return answer


def _probe_listening(port: int) -> bool:
    """The last resort, where the kernel's tables cannot be read: bind the port to see."""
    return any(_bind_probe(family, address, port) for family, address in PROBE_ADDRESSES)


# sock_diag over netlink (linux/sock_diag.h, linux/inet_diag.h).
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST_DUMP = 0x1 | 0x300
_NLMSG_DONE, _NLMSG_ERROR = 3, 2
_TCP_LISTEN = 10
_NLMSG = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_DIAG_REQ = struct.Struct("=BBBBI48x")  # family, protocol, ext, pad, states, an empty sockid


def _netlink_listening(port: int) -> bool | None:
    """Whether the kernel lists a listening TCP socket on `port`; None when it cannot be asked."""
    ports = _netlink_listening_ports()
    return None if ports is None else port in ports


def _netlink_listening_ports() -> frozenset[int] | None:
    """Every port a TCP socket listens on (IPv4 and IPv6), from one sock_diag dump per family.

    Asking for the LISTEN state alone makes the kernel walk its listening table and skip the
    established one, so the answer costs the same on a machine with a million connections.
    """
    af_netlink = getattr(_socket, "AF_NETLINK", None)
    if af_netlink is None:
        return None
    found: set[int] = set()
    try:
        sock = _socket.socket(
            af_netlink, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, _NETLINK_SOCK_DIAG
        )
    except OSError:
        return None
    try:
        for seq, family in enumerate((_socket.AF_INET, _socket.AF_INET6), 1):
            request = _DIAG_REQ.pack(family, _socket.IPPROTO_TCP, 0, 0, 1 << _TCP_LISTEN)
            head = _NLMSG.pack(
                _NLMSG.size + len(request), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST_DUMP, seq, 0
            )
            sock.sendto(head + request, (0, 0))
            if not _read_dump(sock, found):
                return None
    except OSError:
        return None
    finally:
        sock.close()
    return frozenset(found)


def _read_dump(sock: _socket.socket, found: set[int]) -> bool:
    """Add the source port of every listening socket of one dump; False on a netlink error."""
    while True:
        data = sock.recv(1 << 16)
        if not data:
            return False
        offset = 0
        while offset + _NLMSG.size <= len(data):
            length, kind, _, _, _ = _NLMSG.unpack_from(data, offset)
            if kind == _NLMSG_DONE:
                return True
            if kind == _NLMSG_ERROR or length < _NLMSG.size:
                return False
            body = offset + _NLMSG.size
            # inet_diag_msg: family, state, timer, retrans, then the socket id (sport first,
            # in network byte order).
            if kind == _SOCK_DIAG_BY_FAMILY and data[body + 1] == _TCP_LISTEN:
                found.add(int.from_bytes(data[body + 4 : body + 6], "big"))
            offset += (length + 3) & ~3


def _proc_listening(port: int) -> bool | None:
    """Whether /proc/net/tcp or tcp6 shows a listening socket on `port`; None without /proc.

    A line reads `sl local_address rem_address st ...` with the address as `HEX:PORT`; the
    whole table is searched for the port first, so a machine with thousands of sockets pays
    for parsing only the lines that name it.
    """
    needle = f":{port:04X} ".encode()
    readable = False
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path, "rb") as handle:
                table = handle.read()
        except OSError:
            continue
        readable = True
        if needle not in table:
            continue
        for line in table.split(b"\n")[1:]:
            fields = line.split()
            if len(fields) > 3 and fields[1].endswith(needle[:-1]) and fields[3] == _PROC_LISTEN:
                return True
    return False if readable else None


def _psutil_listening(port: int) -> bool | None:
    """psutil's answer where /proc is missing; None when it is refused the system table."""
    import psutil

    try:
        return any(
            conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN
            for conn in psutil.net_connections(kind="tcp")
        )
    except (psutil.AccessDenied, OSError):
        return None


# ---------------------------------------------------------------------------------------------
# Who listens? (psutil)


def _listening_sockets() -> list[tuple[int, str, int | None]]:
    """(port, address, pid) of every listening TCP socket on the machine, from one psutil query."""
    import psutil

    try:
        return [
            (conn.laddr.port, conn.laddr.ip, conn.pid)
            for conn in psutil.net_connections(kind="tcp")
            if conn.status == psutil.CONN_LISTEN and conn.laddr
        ]
    except psutil.AccessDenied:
        # macOS refuses the system-wide table to unprivileged users; per process still works.
        found: list[tuple[int, str, int | None]] = []
        for proc in psutil.process_iter():
            try:
                conns = proc.net_connections(kind="tcp")
            except psutil.Error:
                continue
            found.extend(
                (conn.laddr.port, conn.laddr.ip, proc.pid)
                for conn in conns
                if conn.status == psutil.CONN_LISTEN and conn.laddr
            )
        return found


def _process_name(pid: int | None, cache: dict[int, str | None]) -> str | None:
    if pid is None:
        return None
    if pid not in cache:
        import psutil

        try:
            cache[pid] = psutil.Process(pid).name()
        except psutil.Error:
            cache[pid] = None
    return cache[pid]


def listeners(start: int = 1, end: int = MAX_PORT) -> list[Listener]:
    """Every listening TCP socket with a port in [start, end], sorted by port then address."""
    names: dict[int, str | None] = {}
    found = {
        Listener(port, address, pid, _process_name(pid, names))
        for port, address, pid in _listening_sockets()
        if start <= port <= end
    }
    return sorted(found, key=lambda item: (item.port, item.address, item.pid or 0))


def listeners_on(port: int) -> list[Listener]:
    """The listening sockets on one port (several: IPv4 and IPv6, or SO_REUSEPORT).

    The kernel says first whether anything listens there at all (a fraction of a millisecond);
    only then does psutil look for the owners, which costs its import and a walk over every
    process's open files.
    """
    if _netlink_listening(port) is False:
        return []
    return listeners(port, port)


def listening_in(start: int, end: int) -> frozenset[int]:
    """The ports in [start, end] that something listens on: one system-wide query, no binds.

    The kernel's own list (sock_diag) when it can be asked, as `is_listening` does; psutil's
    table, which also names the owners and so walks every process, only where it cannot.
    """
    found = _netlink_listening_ports()
    if found is None:
        found = frozenset(port for port, _, _ in _listening_sockets())
    return frozenset(port for port in found if start <= port <= end)


def ephemeral_range() -> tuple[int, int] | None:
    """The kernel's ip_local_port_range (ports it hands out itself), None if unreadable."""
    try:
        with open(EPHEMERAL_PATH, encoding="ascii") as handle:
            low, high = (int(field) for field in handle.read().split())
    except (OSError, ValueError):
        return None
    if not 1 <= low <= high <= MAX_PORT:
        return None
    return low, high


# ---------------------------------------------------------------------------------------------
# Processes


def process_start_time(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), None if there is no such process."""
    if pid <= 0:
        return None
    try:
        seen = _proc_stat(pid)
    except _ProcUnreadable:
        import psutil

        try:
            return float(psutil.Process(pid).create_time())
        except psutil.Error:
            return None
    return None if seen is None else seen[1]


def process_alive(pid: int, start_time: float | None) -> bool:
    """Whether `pid` still runs and is the same process: same start time, so a reused pid is dead.

    A zombie (exited, not yet reaped) is dead. Without a recorded start time only the pid can be
    checked.
    """
    if pid <= 0:
        return False
    try:
        seen = _proc_stat(pid)
    except _ProcUnreadable:
        return _psutil_alive(pid, start_time)
    if seen is None or seen[0] == "Z":
        return False
    return start_time is None or abs(seen[1] - start_time) <= START_TIME_TOLERANCE


def _psutil_alive(pid: int, start_time: float | None) -> bool:
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if start_time is None:
            return True
        return bool(abs(proc.create_time() - start_time) <= START_TIME_TOLERANCE)
    except psutil.Error:
        return False


class _ProcUnreadable(Exception):
    """/proc cannot say (not Linux, or no procfs mounted): psutil answers instead."""


def _proc_stat(pid: int) -> tuple[str, float] | None:
    """(state letter, start time) of `pid` from /proc/PID/stat; None when there is no such
    process. The hot path's own reading of what psutil reads (`Process.status()` and
    `create_time()`, computed the same way, to the bit): importing psutil costs about 10 ms,
    a third of a whole `styxy allocate`. tests/test_ports.py holds the two to the same answer.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except (FileNotFoundError, ProcessLookupError):
        if not os.path.isdir("/proc/self"):
            raise _ProcUnreadable from None
        return None
    except OSError as exc:
        raise _ProcUnreadable from exc
    # `pid (comm) state ... starttime ...`: comm may hold spaces and parentheses, so the fields
    # are counted from the last `)`; starttime is the 22nd field, in clock ticks since boot.
    fields = data[data.rfind(b")") + 2 :].split()
    try:
        return fields[0].decode("ascii"), int(fields[19]) / _clock_ticks() + _boot_time()
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        raise _ProcUnreadable from exc


_boot: list[float] = []


def _boot_time() -> float:
    """The `btime` line of /proc/stat (psutil's boot_time), read once per process."""
    if not _boot:
        try:
            with open("/proc/stat", "rb") as handle:
                for line in handle:
                    if line.startswith(b"btime"):
                        _boot.append(float(line.split()[1]))
                        break
        except (OSError, ValueError, IndexError) as exc:
            raise _ProcUnreadable from exc
        if not _boot:
            raise _ProcUnreadable
    return _boot[0]


def _clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def process_info(pid: int) -> tuple[str | None, str | None]:
    """(name, command line joined by spaces) of a process; None for what cannot be read."""
    if pid <= 0:
        return None, None
    import psutil

    try:
        proc = psutil.Process(pid)
    except psutil.Error:
        return None, None
    try:
        name: str | None = proc.name()
    except psutil.Error:
        name = None
    try:
        cmdline = " ".join(proc.cmdline()) or None
    except psutil.Error:
        cmdline = None
    return name, cmdline


def parent_pid() -> int:
    """The process that ran styxy: the default holder of a lease (SPEC section 7)."""
    return os.getppid()
