"""Issue 13 points 9 and 10: a sidecar that is a link or another user's is refused; what styxy
creates in it is private; the document follows the umask and keeps its mode."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import support
from support import DEFAULT_DOC, Styxy, in_child, styxy_command

NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


def _run(styxy: Styxy, *args: str, preexec: Callable[[], None]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*styxy_command(), "--doc", str(styxy.doc), *args],
        capture_output=True,
        text=True,
        env=styxy.env,
        timeout=60,
        stdin=subprocess.DEVNULL,
        preexec_fn=preexec,
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_a_symlinked_sidecar_is_refused_and_its_target_untouched(styxy: Styxy, tmp_path: Path) -> None:
    elsewhere = tmp_path / "victim"
    elsewhere.mkdir()
    (elsewhere / "journal").write_bytes(b"precious\n")
    styxy.sidecar.symlink_to(elsewhere)
    sentence = (
        f"styxy: the sidecar folder {styxy.sidecar} is a symbolic link; styxy refuses a linked "
        "sidecar, which could send its writes elsewhere: replace it with a folder.\n"
    )
    for args in (["list"], ["allocate", "-s", "dev"], ["cleanup"], ["check", "3000"]):
        done = styxy(*args)
        # `check` says 2, as grep does when it cannot answer (SPEC section 10).
        assert (done.code, done.err) == (2 if args[0] == "check" else 1, sentence), args
    assert sorted(p.name for p in elsewhere.iterdir()) == ["journal"]
    assert (elsewhere / "journal").read_bytes() == b"precious\n"


@pytest.mark.parametrize("name", ["leases.json", "journal", "cache.bin", "lock"])
def test_a_symlink_inside_the_sidecar_is_refused(styxy: Styxy, tmp_path: Path, name: str) -> None:
    assert styxy("allocate", "-s", "dev").code == 0
    target = tmp_path / "target"
    path = styxy.sidecar / name
    if path.exists():
        shutil.copyfile(path, target)
        path.unlink()
    else:
        target.write_bytes(b"")
    path.symlink_to(target)
    before = target.read_bytes()
    done = styxy("allocate", "-s", "dev", "-i", "other")
    assert done.code == 1
    assert str(path) in done.err and "symbolic link" in done.err
    assert done.err.count("\n") == 1
    assert target.read_bytes() == before and path.is_symlink()


@needs_root
def test_another_users_sidecar_is_refused(styxy: Styxy) -> None:
    assert styxy("allocate", "-s", "dev").code == 0
    os.chown(styxy.sidecar, NOBODY, NOBODY)
    before = styxy.snapshot()
    for args in (["list"], ["allocate", "-s", "dev", "-i", "other"], ["release", "-p", "3000"]):
        done = styxy(*args)
        assert done.code == 1, args
        assert done.err == (
            f"styxy: the sidecar folder {styxy.sidecar} belongs to user nobody (uid {NOBODY}), "
            "not to you; styxy refuses another user's files, which could plant leases or "
            "redirect its writes: remove it, or use a document of your own.\n"
        )
    assert styxy.snapshot() == before


@needs_root
@pytest.mark.parametrize("name", ["leases.json", "cache.bin"])
def test_another_users_file_in_the_sidecar_is_refused(styxy: Styxy, name: str) -> None:
    assert styxy("allocate", "-s", "dev").code == 0
    path = styxy.sidecar / name
    os.chown(path, NOBODY, NOBODY)
    before = styxy.snapshot()
    done = styxy("list")
    assert done.code == 1
    assert f"{path} belongs to user nobody (uid {NOBODY}), not to you" in done.err
    assert styxy.snapshot() == before


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder another user can reach (pytest's own is private to root)."""
    with support.shared_folder(0o755) as folder:
        yield folder


def _as_nobody(body: Callable[[], str]) -> str:
    """Run `body` in a forked child whose effective user is nobody; its answer comes back.

    A fork rather than `setpriv styxy ...`: the interpreter lives under /root, which nobody
    cannot enter, but a forked child has it loaded already.
    """
    def become() -> None:
        os.setgroups([])
        os.setegid(NOBODY)
        os.seteuid(NOBODY)

    return in_child(become, body)


@needs_root
def test_root_owned_sidecar_is_accepted_and_anothers_refused_for_a_normal_user(
    shared_folder: Path,
) -> None:
    import styxy

    doc = shared_folder / "PORT_MANAGEMENT.md"
    shutil.copyfile(DEFAULT_DOC, doc)
    doc.chmod(0o644)
    styxy.allocate("dev", instance_id="root", pid=os.getpid(), doc=doc)
    sidecar = shared_folder / ".styxy"
    for path in (sidecar, *sidecar.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable, so only ownership decides

    def listed() -> str:
        return json.dumps([x.lease.instanceId for x in styxy.list_leases(doc=doc)])

    # Owned by root: trusted by every user, as the C reader trusts it.
    assert _as_nobody(listed) == '["root"]'
    # Owned by a third user: refused, with the sentence the command line prints.
    os.chown(sidecar, 12345, 12345)
    assert _as_nobody(listed) == (
        f"UnsafeFileError: the sidecar folder {sidecar} belongs to uid 12345, not to you; "
        "styxy refuses another user's files, which could plant leases or redirect its "
        "writes: remove it, or use a document of your own."
    )


@pytest.mark.parametrize(("umask", "doc_mode"), [(0o077, 0o600), (0o022, 0o644)])
def test_sidecar_files_are_private_and_a_created_document_follows_the_umask(
    styxy: Styxy, umask: int, doc_mode: int
) -> None:
    done = subprocess.run(
        [*styxy_command(), "allocate", "-s", "dev"],
        capture_output=True, text=True, env=styxy.env, timeout=60,
        stdin=subprocess.DEVNULL, preexec_fn=lambda: os.umask(umask),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    home_doc = styxy.home / "docs" / "CORE" / "PORT_MANAGEMENT.md"
    sidecar = home_doc.parent / ".styxy"
    assert _mode(home_doc) == doc_mode  # the document follows the umask
    assert _mode(sidecar) == 0o700
    for name in ("leases.json", "cache.bin", "lock", ".gitignore"):
        assert _mode(sidecar / name) == 0o600, name


def test_an_existing_document_keeps_its_mode_when_styxy_edits_it(styxy: Styxy) -> None:
    styxy.doc.chmod(0o640)
    done = _run(styxy, "allocate", "-s", "brandnew", "--yes", preexec=lambda: os.umask(0o077))
    assert done.returncode == 0, done.stderr
    assert b"brandnew" in styxy.doc.read_bytes()
    assert _mode(styxy.doc) == 0o640
