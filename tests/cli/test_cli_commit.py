"""The commit of a transaction: through symbolic links, and all files or none (issue 13, 1-2)."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import time
import zlib
from pathlib import Path

import pytest
from support import DEFAULT_DOC, Styxy, styxy_command

from styxy.store import cache, leases


def _temporaries(*folders: Path) -> list[str]:
    return sorted(p.name for folder in folders for p in folder.iterdir() if p.name.endswith(".tmp"))


def _linked(tmp_path: Path, home: Path, shape: str) -> tuple[Styxy, Path, Path]:
    """A document kept in a dotfiles folder and linked into the project, as issue 13 tells."""
    real = tmp_path / "dotfiles" / "ports" / "PORT_MANAGEMENT.md"
    real.parent.mkdir(parents=True)
    shutil.copyfile(DEFAULT_DOC, real)
    link = tmp_path / "project" / "docs" / "CORE" / "PORT_MANAGEMENT.md"
    link.parent.mkdir(parents=True)
    if shape == "relative":
        link.symlink_to(os.path.relpath(real, link.parent))
    elif shape == "absolute":
        link.symlink_to(real)
    else:  # a chain of two links: project -> shared/current.md -> dotfiles
        middle = tmp_path / "shared" / "current.md"
        middle.parent.mkdir()
        middle.symlink_to(real)
        link.symlink_to(os.path.relpath(middle, link.parent))
    return Styxy(link, home), link, real


@pytest.mark.parametrize("shape", ["relative", "absolute", "chain"])
def test_a_symlinked_document_is_written_through_the_link(tmp_path, home, shape):
    styxy, link, real = _linked(tmp_path, home, shape)
    pointed = os.readlink(link)
    os.chmod(real, 0o600)
    # The same change on a plain copy gives the bytes the linked document must end with.
    plain = Styxy(tmp_path / "plain" / "PORT_MANAGEMENT.md", home)
    plain.doc.parent.mkdir()
    shutil.copyfile(DEFAULT_DOC, plain.doc)
    assert plain("config", "set", "auto-allocation.gap-size", "20").code == 0

    done = styxy("config", "set", "auto-allocation.gap-size", "20")

    assert (done.code, done.err) == (0, "")
    assert os.path.islink(link) and os.readlink(link) == pointed
    assert real.read_bytes() == plain.doc.read_bytes() != DEFAULT_DOC.read_bytes()
    assert (real.stat().st_mode & 0o777) == 0o600  # the target keeps its mode
    assert _temporaries(real.parent, link.parent, styxy.sidecar) == []
    # The sidecar stays beside the path the user named, and its cache matches the target.
    assert (link.parent / ".styxy" / "cache.bin").is_file()
    assert not (real.parent / ".styxy").exists()
    again = styxy("allocate", "-s", "grafana", "-i", "main")
    assert (again.code, again.out) == (0, "11520\n")  # after the gap of 20 just set
    assert "| grafana | 11520 | 11529 |" in real.read_text()
    assert os.path.islink(link) and os.readlink(link) == pointed
    assert styxy("validate").code == 0


def test_a_dangling_link_is_refused_naming_its_target(tmp_path, home):
    link = tmp_path / "project" / "PORT_MANAGEMENT.md"
    link.parent.mkdir()
    missing = tmp_path / "dotfiles" / "PORT_MANAGEMENT.md"
    link.symlink_to(missing)
    styxy = Styxy(link, home)
    for args in (
        ("allocate", "-s", "dev"),
        ("config", "set", "auto-allocation.gap-size", "20"),
        ("init", "--force"),
    ):
        done = styxy(*args)
        assert (done.code, done.out) == (1, "")
        assert done.err == (
            f"styxy: {link} is a symbolic link to {missing}, which does not exist; "
            "create that file or point the link at the real document.\n"
        )
    assert os.readlink(link) == str(missing)
    assert sorted(p.name for p in link.parent.iterdir()) == ["PORT_MANAGEMENT.md"]
    assert not missing.parent.exists()


def test_a_link_that_leads_back_to_itself_is_refused_as_a_loop(tmp_path, home):
    # It was "a symbolic link to P.md, which does not exist", of a file that exists.
    link = tmp_path / "PORT_MANAGEMENT.md"
    link.symlink_to(link.name)
    styxy = Styxy(link, home)
    for args in (("allocate", "-s", "dev"), ("init", "--force")):
        done = styxy(*args)
        assert (done.code, done.out) == (1, "")
        assert done.err == (
            f"styxy: {link} is a symbolic link that leads back to itself (a loop of links); "
            "point the link at the real document.\n"
        )
    assert os.readlink(link) == link.name
    assert not (tmp_path / ".styxy").exists()


def test_a_killed_writers_leftover_beside_a_linked_target_is_swept_once_old(tmp_path, home):
    styxy, _, real = _linked(tmp_path, home, "absolute")
    old = real.parent / f".{real.name}.dead0001.tmp"
    young = real.parent / f".{real.name}.busy0002.tmp"  # maybe another link's styxy, writing
    for leftover in (old, young):
        leftover.write_bytes(b"half a document")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert styxy("allocate", "-s", "dev").code == 0
    assert not old.exists() and young.read_bytes() == b"half a document"


def _make_description_huge(doc: Path, size: int) -> None:
    text = doc.read_text()
    marker = "| dev |"
    at = text.index(marker)
    end = text.index("\n", at)
    row = text[at:end].rstrip().rstrip("|").rstrip()
    doc.write_text(text[:at] + row + " " + "x" * size + " |" + text[end:])


def test_a_cache_over_its_limit_refuses_and_replaces_nothing(styxy):
    held = styxy("allocate", "-s", "api", "-i", "kept")
    assert held.code == 0
    _make_description_huge(styxy.doc, 5 * 1024 * 1024)
    before = styxy.snapshot()
    for args in (
        ("allocate", "-s", "dev", "-i", "new"),  # only the lease file and cache would change
        ("allocate", "-s", "grafana"),  # the document too
        ("release", "-s", "api", "-i", "kept"),
    ):
        done = styxy(*args)
        assert (done.code, done.out) == (1, ""), done
        assert done.err.startswith("styxy: nothing was changed: the cache "), done.err
        assert "exceed 4 MiB" in done.err and done.err.count("\n") == 1
        assert styxy.snapshot() == before
        assert _temporaries(styxy.doc.parent, styxy.sidecar) == []


def _many_leases(path: Path, count: int) -> None:
    """A lease file of `count` live leases held by this test process (young: never reaped)."""
    import psutil

    started = psutil.Process().create_time()
    now = time.time()
    state = leases.LeaseFile(
        leases=tuple(
            leases.Lease(f"{i:016x}", 20000 + i, "dev", f"i{i}", "", os.getpid(), started, now, "cli")
            for i in range(count)
        )
    )
    path.write_bytes(leases.dump(state))


def _limit_file_size(limit: int):
    def apply() -> None:
        # Ignored, SIGXFSZ no longer kills the process: the write fails with EFBIG instead, as
        # a full disk fails it with ENOSPC. The disposition survives exec.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_write_error_after_the_first_file_replaces_nothing(styxy):
    assert styxy("allocate", "-s", "dev", "-i", "seed").code == 0  # sidecar, leases, cache
    _many_leases(styxy.sidecar / "leases.json", 300)
    assert styxy("cleanup").code == 0  # a writer: the cache now holds the 300 leases
    before = styxy.snapshot()
    doc_size = styxy.doc.stat().st_size
    lease_size = (styxy.sidecar / "leases.json").stat().st_size
    limit = doc_size + 2048  # room for the new document, not for the lease file
    assert lease_size > limit
    done = subprocess.run(
        [*styxy_command(), "--doc", str(styxy.doc), "allocate", "-s", "grafana"],
        capture_output=True, text=True, env=styxy.env, timeout=120,
        stdin=subprocess.DEVNULL, preexec_fn=_limit_file_size(limit),
    )
    assert "Traceback" not in done.stderr
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"styxy: cannot write {styxy.sidecar / 'leases.json'}: file too large.\n"
    assert styxy.snapshot() == before
    assert _temporaries(styxy.doc.parent, styxy.sidecar) == []
    # Without the limit the same command goes through, all three files at once.
    again = styxy("allocate", "-s", "grafana")
    assert again.code == 0 and "| grafana |" in styxy.doc.read_text()


def _cached_leases(styxy: Styxy) -> list[tuple[int, int]]:
    return sorted((x.port, x.pid) for x in cache.read(styxy.sidecar / "cache.bin").leases)


def test_a_crash_between_the_lease_file_and_the_cache_is_repaired_by_the_next_command(styxy):
    """The state a SIGKILL between the last two renames leaves: new lease file, old cache."""
    assert styxy("allocate", "-s", "dev", "-i", "one").code == 0
    old_cache = (styxy.sidecar / "cache.bin").read_bytes()
    assert styxy("allocate", "-s", "dev", "-i", "two").code == 0
    two = _cached_leases(styxy)
    assert len(two) == 2
    (styxy.sidecar / "cache.bin").write_bytes(old_cache)  # the cache rename never happened
    assert len(_cached_leases(styxy)) == 1
    # A command that changes nothing (the same identity gets its own lease back) still sees
    # that the cache was built from another lease file, and rebuilds it.
    again = styxy("allocate", "-s", "dev", "-i", "one")
    assert (again.code, again.out) == (0, "3000\n")
    assert _cached_leases(styxy) == two


def test_a_crash_between_the_document_and_the_lease_file_is_repaired_by_the_next_command(styxy):
    """New document, old lease file and cache: the cache no longer matches the document."""
    assert styxy("cleanup").code == 0  # a writer: sidecar and cache exist
    before = styxy.snapshot()
    assert styxy("allocate", "-s", "grafana").code == 0
    new_doc = styxy.doc.read_bytes()
    for name, data in before.items():  # every file back as it was, but the document
        (styxy.doc.parent / name).write_bytes(data)
    styxy.doc.write_bytes(new_doc)
    # The range exists, so the retried command gets its port in it without a second range.
    retried = styxy("allocate", "-s", "grafana")
    assert (retried.code, retried.out, retried.err) == (0, "11510\n", "")
    assert styxy.doc.read_bytes() == new_doc
    stamp = cache.read_stamp(styxy.sidecar / "cache.bin")
    assert (stamp.doc_crc, stamp.doc_size) == (zlib.crc32(new_doc), len(new_doc))
    assert _cached_leases(styxy)[0][0] == 11510


@pytest.mark.parametrize("name", ["cache.bin", "leases.json"])
def test_a_folder_in_place_of_a_sidecar_file_refuses_and_replaces_nothing(styxy, name):
    assert styxy("allocate", "-s", "dev").code == 0  # the lease file and the cache exist
    target = styxy.sidecar / name
    target.unlink()
    target.mkdir()
    before = styxy.snapshot()
    done = styxy("allocate", "-s", "grafana")
    assert (done.code, done.out) == (1, "")
    assert done.err.startswith("styxy: ") and done.err.count("\n") == 1 and str(target) in done.err
    assert styxy.snapshot() == before and target.is_dir()
    assert _temporaries(styxy.doc.parent, styxy.sidecar) == []
