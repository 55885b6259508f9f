"""Issue 13 point 4: a FIFO, a device or a folder where a file should be is refused at once
with one sentence naming it; every read is capped by a limit the message names."""

from __future__ import annotations

import os
import resource
import subprocess

import pytest
from support import Styxy, styxy_command

# A command that opened a FIFO for reading without O_NONBLOCK would wait for a writer forever.
QUICK = 30


@pytest.fixture
def warm(styxy: Styxy) -> Styxy:
    assert styxy("allocate", "-s", "dev", "-i", "warm").code == 0
    return styxy


def _refused(styxy: Styxy, *args: str) -> str:
    before = styxy.snapshot_safe()
    done = styxy(*args, timeout=QUICK)
    # `check` follows grep: 2 when it cannot answer (SPEC section 10).
    assert done.code == (2 if args[0] == "check" else 1), (args, done)
    assert done.out == ""
    assert styxy.snapshot_safe() == before
    return done.err


@pytest.fixture(autouse=True)
def _safe_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    def snapshot_safe(self: Styxy) -> dict[str, bytes | str]:
        """Like `snapshot`, without opening FIFOs and devices: their kind stands for them."""
        found: dict[str, bytes | str] = {}
        for path in sorted(self.doc.parent.rglob("*")):
            key = str(path.relative_to(self.doc.parent))
            if path.is_symlink():
                found[key] = f"-> {os.readlink(path)}"
            elif path.is_fifo():
                found[key] = "fifo"
            elif path.is_file() and path.name != "lock":
                found[key] = path.read_bytes()
        return found

    monkeypatch.setattr(Styxy, "snapshot_safe", snapshot_safe, raising=False)


def test_a_fifo_at_the_document_is_refused_by_every_command(styxy: Styxy) -> None:
    styxy.doc.unlink()
    os.mkfifo(styxy.doc)
    sentence = (
        f"the document {styxy.doc} is a FIFO, not a regular file; styxy reads only regular files"
    )
    assert _refused(styxy, "validate") == f"{styxy.doc}:1: {sentence}\n"
    for args in (["list"], ["allocate", "-s", "dev"], ["check", "3000"], ["release", "-p", "3000"]):
        assert _refused(styxy, *args) == f"styxy: {sentence}.\n", args


@pytest.mark.parametrize("name", ["leases.json", "journal"])
def test_a_fifo_in_the_sidecar_is_refused(warm: Styxy, name: str) -> None:
    path = warm.sidecar / name
    path.unlink(missing_ok=True)
    os.mkfifo(path)
    label = "the lease file" if name == "leases.json" else "the interceptor's journal"
    sentence = f"styxy: {label} {path} is a FIFO, not a regular file; styxy reads only regular files.\n"
    for args in (["list"], ["allocate", "-s", "dev", "-i", "other"], ["cleanup"]):
        assert _refused(warm, *args) == sentence, args
    assert path.is_fifo()


def test_a_folder_at_the_journal_is_named_for_what_it_is(warm: Styxy) -> None:
    journal = warm.sidecar / "journal"
    journal.mkdir()
    sentence = (
        f"styxy: the interceptor's journal {journal} is a directory, not a regular file; "
        "styxy reads only regular files.\n"
    )
    for args in (["list"], ["allocate", "-s", "dev", "-i", "other"]):
        assert _refused(warm, *args) == sentence
    assert journal.is_dir()
    assert sorted(p.name for p in warm.sidecar.glob(".journal.*")) == []


def _limited(styxy: Styxy, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command with its address space capped at 1 GiB: an unbounded read of
    /dev/zero fails with MemoryError (a traceback), a bounded one never gets near."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run(
        [*styxy_command(), "--doc", str(styxy.doc), *args],
        capture_output=True,
        text=True,
        env=styxy.env,
        timeout=QUICK,
        stdin=subprocess.DEVNULL,
        preexec_fn=cap,
    )


def test_a_link_to_dev_zero_at_the_document_is_refused_with_bounded_memory(styxy: Styxy) -> None:
    styxy.doc.unlink()
    styxy.doc.symlink_to("/dev/zero")
    sentence = (
        f"the document {styxy.doc} is a character device, not a regular file; styxy reads "
        "only regular files"
    )
    for args in (["list"], ["allocate", "-s", "dev"]):
        done = _limited(styxy, *args)
        assert (done.returncode, done.stdout, done.stderr) == (1, "", f"styxy: {sentence}.\n")
    done = _limited(styxy, "validate")
    assert (done.returncode, done.stderr) == (1, f"{styxy.doc}:1: {sentence}\n")
    assert os.readlink(styxy.doc) == "/dev/zero"


def test_a_document_over_the_limit_is_refused_naming_the_limit(styxy: Styxy) -> None:
    with open(styxy.doc, "ab") as handle:
        handle.write(b"\n" + b"x" * (8 * 1024 * 1024))
    sentence = (
        f"styxy: the document {styxy.doc} is larger than 8 MiB, the most styxy reads "
        "of the document.\n"
    )
    assert _refused(styxy, "list") == sentence
    assert _refused(styxy, "allocate", "-s", "dev") == sentence


def test_a_lease_file_over_the_limit_is_refused_naming_the_limit(warm: Styxy) -> None:
    leases = warm.sidecar / "leases.json"
    with open(leases, "ab") as handle:
        handle.truncate(16 * 1024 * 1024 + 1)
    sentence = (
        f"styxy: the lease file {leases} is larger than 16 MiB, the most styxy "
        "reads of the lease file.\n"
    )
    assert _refused(warm, "list") == sentence
    assert _refused(warm, "allocate", "-s", "dev", "-i", "other") == sentence


@pytest.mark.parametrize(
    ("name", "label"),
    [("leases.json", "the lease file"), ("cache.bin", "the cache"), ("lock", "the lock file")],
)
def test_a_folder_at_any_sidecar_file_is_named_for_what_it_is(
    warm: Styxy, name: str, label: str
) -> None:
    path = warm.sidecar / name
    path.unlink()
    path.mkdir()
    err = _refused(warm, "allocate", "-s", "dev", "-i", "other")
    assert f"{label} {path} is a directory, not a regular file" in err
    assert err.count("\n") == 1
    assert path.is_dir()
