"""The kernel half of the interceptor (SPEC section 16): build, attach, enter, report, detach.

`attach` and `detach` need root, once; everything else runs as the user. Each refusal is one
sentence (InterceptorError / RefusedError) and leaves nothing half attached: the control
program `styxy-bpf` unpins whatever it made when a step fails, and `attach` detaches again when
filling the maps fails. The maps themselves are `styxy.store.bpfmaps`, written by every commit.
Core code: raises, never prints or exits.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from styxy.errors import InterceptorError, NotFoundError, RefusedError
from styxy.paths import Paths, data_dir, display
from styxy.resources import shipped
from styxy.store import atomic, bpfmaps

BINARY = "styxy-bpf"
BTF = Path("/sys/kernel/btf/vmlinux")
CGROUP_MOUNT = Path("/run/styxy/cgroup2")
DEFAULT_CGROUP = "styxy"
BUILD_TIMEOUT_SECONDS = 300


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
    pending: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "attached": self.attached,
            "cgroup": self.attachment.cgroup if self.attachment else None,
            "pin": self.attachment.pin if self.attachment else None,
            "watched": self.watched,
            "busy": self.busy,
            "moved": self.moved,
            "kept": self.kept,
            "pendingMoves": self.pending,
        }


def binary_path() -> Path:
    return data_dir() / "bpf" / BINARY


def build(force: bool = False) -> Path:
    """`make -C interceptor bpf` into the data folder: clang for the BPF object, vmlinux.h
    from the running kernel's BTF, the libbpf control program with the object inside."""
    folder = binary_path().parent
    if not force and binary_path().is_file():
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
    command = ["make", "-s", "-C", str(shipped("interceptor")), "bpf", f"OUT={folder}", "WERROR="]
    if force:
        command.insert(2, "-B")
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        raise InterceptorError("Building the kernel bind program took too long.") from None
    if done.returncode != 0 or not binary_path().is_file():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise InterceptorError(f"Building the kernel bind program failed: {last}")
    return binary_path()


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


def cgroup2_mount() -> Path | None:
    """The cgroup v2 hierarchy: /sys/fs/cgroup (unified) or its `unified` folder (hybrid)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        left, _, right = line.partition(" - ")
        if right.split(" ", 1)[0] == "cgroup2":
            return Path(left.split(" ")[4].replace("\\040", " "))
    return None


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
    status = os.stat(paths.doc.parent)
    return status.st_uid, status.st_gid


def attach(paths: Paths, cgroup: str | None, user: str | None) -> Attachment:
    """Attach both programs to the cgroup and pin them for this document's cache."""
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
    binary = build()
    mount = cgroup2_mount() or _mount_cgroup2()
    folder = Path(cgroup) if cgroup else mount / DEFAULT_CGROUP
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
    _detach(build(), Path(found.pin), found, paths)
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


def status(paths: Paths) -> Status:
    found = attachment(paths)
    if found is None:
        return Status(False, None)
    with bpfmaps.Maps(Path(found.pin)) as maps:
        watched, busy, moved, kept = maps.stats()
        pending = len(maps.moves())
    return Status(True, found, watched, busy, moved, kept, pending)


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
