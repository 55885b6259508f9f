"""The kernel half of the interceptor (SPEC section 16): build, attach, enter, report, detach.

`attach` and `detach` need root, once; everything else runs as the user. Each refusal is one
sentence (InterceptorError / RefusedError) and leaves nothing half attached: the control
program `styxy-bpf` unpins whatever it made when a step fails, and `attach` detaches again when
filling the maps fails. The maps themselves are `styxy.store.bpfmaps`, written by every commit.
Core code: raises, never prints or exits.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from styxy.errors import InterceptorError, NotFoundError, RefusedError, StyxyError
from styxy.paths import Paths, data_dir, display
from styxy.resources import shipped
from styxy.store import atomic, bpfmaps
from styxy.store.bpfmaps import Event

BINARY = "styxy-bpf"
BTF = Path("/sys/kernel/btf/vmlinux")
CGROUP_MOUNT = Path("/run/styxy/cgroup2")
DEFAULT_CGROUP = "styxy"
BUILD_TIMEOUT_SECONDS = 300
# What the built control program is made of: a change in any of them rebuilds it.
INPUTS = ("bpf/styxy_bind.bpf.c", "bpf/styxy_bpf.h", "bpf/styxy-bpf.c", "Makefile")
EVENTS_SHOWN = 5  # the last events `status` and `doctor` show


@dataclass(frozen=True)
class Attachment:
    """Where the programs are attached for one document."""

    cgroup: str
    pin: str
    uid: int
    created_cgroup: bool

    def to_json(self) -> dict[str, object]:
        return {"cgroup": self.cgroup, "pin": self.pin, "uid": self.uid}


@dataclass(frozen=True)
class Status:
    attached: bool
    attachment: Attachment | None
    watched: int = 0
    busy: int = 0
    moved: int = 0
    kept: int = 0
    dropped: int = 0
    pending: int = 0
    events: tuple[Event, ...] = ()  # the last few, oldest first

    def to_json(self) -> dict[str, object]:
        return {
            "attached": self.attached,
            "cgroup": self.attachment.cgroup if self.attachment else None,
            "pin": self.attachment.pin if self.attachment else None,
            "watched": self.watched,
            "busy": self.busy,
            "moved": self.moved,
            "kept": self.kept,
            "dropped": self.dropped,
            "pendingMoves": self.pending,
            "events": [event_json(e) for e in self.events],
        }


def event_json(event: Event) -> dict[str, object]:
    """An event as `status --json` and `doctor --json` show it."""
    from styxy.store.leases import iso

    return {
        "time": iso(event.at),
        "pid": event.pid,
        "uid": event.uid,
        "process": event.comm,
        "requested": event.requested,
        "given": event.given,
        "serviceType": event.service_type,
        "outcome": event.outcome,
        "message": event_words(event),
    }


def event_words(event: Event) -> str:
    """One event in words, as the preload library says a move on stderr."""
    head = f"{event.comm} (process {event.pid}): port {event.requested} in use; "
    if event.outcome == "moved":
        return head + f"bound {event.given} instead (service {event.service_type})"
    if event.outcome == "single-instance":
        return head + (
            f"not moved, '{event.service_type}' is a single-instance service; "
            "the bind failed as it would have"
        )
    if event.outcome == "range-full":
        return head + (
            f"not moved, every candidate port of '{event.service_type}' is busy; "
            "the bind failed as it would have"
        )
    return head + event.outcome


def binary_path() -> Path:
    return data_dir() / "bpf" / BINARY


def build(force: bool = False) -> Path:
    """`make -C interceptor bpf` into the data folder: clang for the BPF object, vmlinux.h
    from the running kernel's BTF, the libbpf control program with the object inside.

    Built again only when the shipped source changed since (a stamp beside the program holds
    its fingerprint), so a second call is a no-op."""
    folder = binary_path().parent
    source = shipped("interceptor")
    fingerprint = _fingerprint(source)
    stamp = binary_path().with_name(BINARY + ".sha256")
    if not force and binary_path().is_file() and _read(stamp) == fingerprint:
        return binary_path()
    for tool, package in (("clang", "clang"), ("bpftool", "bpftool"), ("make", "make")):
        if _which(tool) is None:
            raise InterceptorError(
                f"Building the kernel bind program needs {tool}; install it "
                f"(`apt-get install {package} libbpf-dev`) and run "
                "`styxy interceptor build --bpf` again."
            )
    if not BTF.exists():
        raise InterceptorError(_no_btf())
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InterceptorError(f"Cannot create {folder}: {exc.strerror}.") from None
    # -B: every step again, whatever the files' times say (an upgrade may ship older mtimes).
    command = ["make", "-s", "-B", "-C", str(source), "bpf", f"OUT={folder}", "WERROR="]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        raise InterceptorError("Building the kernel bind program took too long.") from None
    if done.returncode != 0 or not binary_path().is_file():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise InterceptorError(f"Building the kernel bind program failed: {last}")
    atomic.write_bytes(stamp, (fingerprint + "\n").encode())
    return binary_path()


def _fingerprint(source: Path) -> str:
    digest = hashlib.sha256()
    for name in INPUTS:
        try:
            digest.update(name.encode() + b"\0" + (source / name).read_bytes())
        except OSError:
            raise InterceptorError(
                f"The kernel bind program's source is incomplete in {source} (missing {name})."
            ) from None
    return digest.hexdigest()


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _which(tool: str) -> str | None:
    import shutil

    return shutil.which(tool)


def _no_btf() -> str:
    return (
        f"This kernel has no BTF ({BTF} is missing); the kernel bind program needs Linux 5.11+ "
        "built with CONFIG_DEBUG_INFO_BTF."
    )


def _state_path(paths: Paths) -> Path:
    """Where `attach` records the cgroup (beside the bpffs, which holds no plain files)."""
    return bpfmaps.pin_root().parent / "attached" / f"{bpfmaps.pin_folder(paths.cache).name}.json"


def attachment(paths: Paths) -> Attachment | None:
    if not bpfmaps.attached(paths.cache):
        return None
    try:
        data = json.loads(_state_path(paths).read_text())
        return Attachment(
            str(data["cgroup"]), str(data["pin"]), int(data["uid"]), bool(data["created"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return Attachment("", str(bpfmaps.pin_folder(paths.cache)), -1, False)


def _mounts() -> list[tuple[Path, str]]:
    """(mount point, file system type) of every mount this process sees, in mount order."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        left, _, right = line.partition(" - ")
        fields = left.split(" ")
        if len(fields) > 4 and right:
            # Blanks and backslashes in a mount point are octal escapes (\040 for a space).
            point = fields[4].encode().decode("unicode_escape").encode("latin-1").decode()
            found.append((Path(point), right.split(" ", 1)[0]))
    return found


def cgroup2_mount() -> Path | None:
    """The cgroup v2 hierarchy: /sys/fs/cgroup (unified) or its `unified` folder (hybrid)."""
    return next((point for point, kind in _mounts() if kind == "cgroup2"), None)


def filesystem(path: Path) -> str | None:
    """The type of the file system `path` lies on (of its nearest existing folder): the last
    mount on the longest mount point above it, as the kernel resolves it."""
    here = Path(os.path.realpath(path))
    while not here.exists() and here != here.parent:
        here = here.parent
    best: tuple[int, str] | None = None
    for point, kind in _mounts():
        if here == point or point in here.parents:
            depth = len(point.parts)
            if best is None or depth >= best[0]:
                best = (depth, kind)
    return best[1] if best else None


def _check_cgroup(folder: Path, mount: Path) -> None:
    """Refuse, before anything is made, a --cgroup that is not a cgroup v2 folder."""
    parent = folder.parent
    if not folder.exists() and not parent.is_dir():
        raise InterceptorError(
            f"Cannot create the cgroup {folder}: {parent} does not exist; pass --cgroup a "
            f"folder under {mount}, or leave --cgroup out."
        )
    if filesystem(folder) != "cgroup2":
        raise InterceptorError(
            f"{folder} is not in a cgroup v2 hierarchy; pass --cgroup a folder under {mount}, "
            "or leave --cgroup out."
        )


def _check_pin_root(root: Path) -> None:
    """The pins go on a bpffs: the pin root is one, or a folder styxy may mount one on (missing
    or empty); never a bpffs mounted over someone's files."""
    if not root.exists() or filesystem(root) == "bpf":
        return
    try:
        empty = root.is_dir() and not any(root.iterdir())
    except OSError:
        empty = False
    if not empty:
        raise InterceptorError(
            f"The pin folder {root} is not on a bpffs and is not empty; mount one there "
            f"(sudo mount -t bpf bpf {root}) or remove the folder, then attach again."
        )


def _require_root(verb: str) -> None:
    if os.geteuid() != 0:
        raise RefusedError(
            f"{verb} the kernel bind program needs root (CAP_BPF and CAP_NET_ADMIN); "
            f"run: sudo styxy interceptor bpf {verb.split()[0].lower()}"
        )


def _owner(user: str | None, paths: Paths) -> tuple[int, int]:
    import pwd

    if user:
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            raise NotFoundError(f"There is no user named {user!r}.") from None
        return entry.pw_uid, entry.pw_gid
    if os.environ.get("SUDO_UID", "").isdigit():
        return int(os.environ["SUDO_UID"]), int(os.environ.get("SUDO_GID", "0") or 0)
    folder = paths.doc.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the default document's folder is made on first use
    status = os.stat(folder)
    return status.st_uid, status.st_gid


def document(doc: str | os.PathLike[str] | None, user: str | None = None) -> Paths:
    """The document an attachment is for: `--doc`, else `$STYXY_DOC`, else the default one of
    the user it is for. Run with sudo, that is the user who ran sudo (or `--user`), not root:
    sudo gives root's HOME, and an attachment for root's document would never see the user's
    leases."""
    import pwd

    from styxy import paths as paths_module

    name = user or os.environ.get("SUDO_USER")
    if doc or os.environ.get("STYXY_DOC") or os.geteuid() != 0 or not name or name == "root":
        return paths_module.resolve(doc)
    try:
        home = pwd.getpwnam(name).pw_dir
    except KeyError:
        return paths_module.resolve(doc)  # an unknown --user is refused by attach itself
    default = Path(home) / paths_module.DEFAULT_DOC.relative_to("~")
    return Paths(default, may_create=True)


def _fill(paths: Paths, uid: int, gid: int, notify: Callable[[str], None]) -> None:
    """The first commit fills the maps. It runs as the user the pins were given to, as every
    later one will: so the document's sidecar stays theirs (styxy refuses to write another
    user's files, root's included), and a user who cannot update the maps is found now."""
    if uid == os.geteuid():
        from styxy.store.transaction import run_change

        run_change(paths, lambda txn: None, notify=notify, needs_document=False)
    else:
        _fill_as(paths, uid, gid, notify)
    with bpfmaps.Maps(bpfmaps.pin_folder(paths.cache)) as maps:
        generation = maps.settings()[-1]
    if generation == 0:
        raise InterceptorError(
            f"The kernel bind program's maps could not be filled for {display(paths.doc)}; "
            "its owner must be the user who runs styxy on it (--user)."
        )


def _fill_as(paths: Paths, uid: int, gid: int, notify: Callable[[str], None]) -> None:
    """The first commit in a child process that has become the user: forked, not started
    anew, so it needs no interpreter the user can run, only the document already resolved."""
    import ctypes  # noqa: F401 - what the commit imports lazily, imported while still root:
    import ipaddress  # noqa: F401   an interpreter installed in root's home (pyenv) is out
    import socket  # noqa: F401      of the user's reach once the child has become the user

    import psutil  # noqa: F401

    from styxy.store.transaction import run_change

    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(reader)
        code, said = 0, list[str]()
        try:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            run_change(paths, lambda txn: None, notify=said.append, needs_document=False)
        except StyxyError as exc:
            code, said = 1, [str(exc)]
        except BaseException as exc:  # whatever it was, the parent says it in one sentence
            code, said = 1, [f"styxy failed as uid {uid}: {exc}"]
        with os.fdopen(writer, "w") as out:
            out.write("\n".join(said))
        os._exit(code)
    os.close(writer)
    with os.fdopen(reader) as answer:
        said = [line for line in answer.read().splitlines() if line.strip()]
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise InterceptorError((said or [f"styxy failed as uid {uid} and said nothing."])[-1])
    for line in said:
        notify(line)


def attach(
    paths: Paths,
    cgroup: str | None,
    user: str | None,
    notify: Callable[[str], None] = lambda _: None,
) -> Attachment:
    """Attach both programs to the cgroup, pin them for this document's cache, and fill the
    maps (as the user); any failure leaves nothing attached."""
    _require_root("Attaching")
    if not BTF.exists():
        raise InterceptorError(_no_btf())
    pin = bpfmaps.pin_folder(paths.cache)
    if bpfmaps.attached(paths.cache):
        raise RefusedError(
            f"The kernel bind program is attached for {display(paths.doc)} already ({pin}); "
            "detach it first: sudo styxy interceptor bpf detach"
        )
    uid, gid = _owner(user, paths)
    _check_pin_root(bpfmaps.pin_root())
    binary = build()
    mount = cgroup2_mount() or _mount_cgroup2()
    folder = Path(os.path.abspath(cgroup)) if cgroup else mount / DEFAULT_CGROUP
    _check_cgroup(folder, mount)
    created = False
    if not folder.exists():
        try:
            folder.mkdir()
        except OSError as exc:
            raise InterceptorError(f"Cannot create the cgroup {folder}: {exc.strerror}.") from None
        created = True
    done = subprocess.run(
        [str(binary), "attach", "--cgroup", str(folder), "--pin", str(pin),
         "--uid", str(uid), "--gid", str(gid)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        if created:
            _remove_cgroup(folder)
        raise InterceptorError(_sentence(done.stderr))
    found = Attachment(str(folder), str(pin), uid, created)
    try:
        if created:
            # The user may move their own processes in where the hierarchy allows it.
            for item in (folder, folder / "cgroup.procs"):
                os.chown(item, uid, gid)
        state = _state_path(paths)
        state.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(
            state,
            json.dumps({**found.to_json(), "created": created}).encode(),
            mode=0o644,
        )
    except OSError as exc:
        _detach(binary, pin, found, paths)
        raise InterceptorError(f"Cannot record the attachment: {exc.strerror}.") from None
    except StyxyError:
        _detach(binary, pin, found, paths)
        raise
    try:
        _fill(paths, uid, gid, notify)
    except BaseException:
        _detach(binary, pin, found, paths)  # nothing half attached: no empty maps left behind
        raise
    return found


def _mount_cgroup2() -> Path:
    try:
        CGROUP_MOUNT.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InterceptorError(f"Cannot create {CGROUP_MOUNT}: {exc.strerror}.") from None
    done = subprocess.run(
        ["mount", "-t", "cgroup2", "none", str(CGROUP_MOUNT)], capture_output=True, check=False
    )
    if done.returncode != 0:
        raise InterceptorError(
            "This machine has no cgroup v2 hierarchy and one could not be mounted; "
            "the kernel bind program needs cgroup v2."
        )
    return CGROUP_MOUNT


def _sentence(stderr: str) -> str:
    line = (stderr.strip().splitlines() or ["styxy-bpf: failed"])[-1]
    text = line.removeprefix("styxy-bpf: ")
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _remove_cgroup(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # processes still inside: the cgroup stays, empty of programs


def detach(paths: Paths) -> Attachment:
    _require_root("Detaching")
    found = attachment(paths)
    if found is None:
        raise NotFoundError(f"The kernel bind program is not attached for {display(paths.doc)}.")
    # Any build detaches (unpinning is the same in every version): no rebuild, no clang needed.
    binary = binary_path() if binary_path().is_file() else build()
    _detach(binary, Path(found.pin), found, paths)
    return found


def _detach(binary: Path, pin: Path, found: Attachment, paths: Paths) -> None:
    done = subprocess.run(
        [str(binary), "detach", "--pin", str(pin)], capture_output=True, text=True, check=False
    )
    _state_path(paths).unlink(missing_ok=True)
    if found.created_cgroup and found.cgroup:
        _remove_cgroup(Path(found.cgroup))
    if done.returncode != 0:
        raise InterceptorError(_sentence(done.stderr))


def events_log(paths: Paths) -> Path:
    """The sidecar's log of the program's last events (drained from the ring by every commit)."""
    return paths.sidecar / bpfmaps.EVENTS_FILE


def status(paths: Paths) -> Status:
    """What is attached, the program's counters, the moves not folded yet and the last events
    (the log and the ring's undrained ones). Reads only: no lock, nothing consumed."""
    found = attachment(paths)
    if found is None:
        return Status(False, None)
    try:
        with bpfmaps.Maps(Path(found.pin)) as maps:
            watched, busy, moved, kept, dropped = maps.stats()
            pending = len(maps.moves())
            events = maps.recent_events(events_log(paths))[-EVENTS_SHOWN:]
    except OSError as exc:  # a map another user owns, a ring that cannot be mapped
        raise InterceptorError(
            f"Cannot read the kernel bind program's maps in {found.pin}: {exc.strerror}."
        ) from None
    return Status(True, found, watched, busy, moved, kept, dropped, pending, tuple(events))


def enter(paths: Paths) -> Attachment:
    """Move this process into the attached cgroup (its children follow): `bpf exec`, `run --bpf`."""
    found = attachment(paths)
    if found is None or not found.cgroup:
        raise NotFoundError(
            f"The kernel bind program is not attached for {display(paths.doc)}; "
            "run: sudo styxy interceptor bpf attach"
        )
    try:
        with open(Path(found.cgroup) / "cgroup.procs", "w") as procs:
            procs.write(str(os.getpid()))
    except OSError as exc:
        raise RefusedError(
            f"Cannot enter the cgroup {found.cgroup}: {exc.strerror} (a plain user needs it "
            "delegated; see docs/INTERCEPTOR.md)."
        ) from None
    return found
