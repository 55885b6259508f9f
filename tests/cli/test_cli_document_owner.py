"""Replacing a document keeps its owner, group and mode, or refuses (SPEC section 18).

A rename puts a new file at the path, owned by whoever wrote it. Root gives the new document
back to its owner and group; another user, who cannot, leaves the document alone instead of
taking it over (its owner could no longer save it). Real users: root, `nobody`, and a process
that really changes its user ids (setgid, setuid) before it calls styxy.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import support
from support import DEFAULT_DOC, Styxy, in_child

NOBODY = 65534
ANOTHER = 23456  # a second, unprivileged user of the test: no name, a real uid all the same


def _owner(path: Path) -> tuple[int, int, int]:
    status = os.stat(path)
    return status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode)


def test_root_gives_the_new_document_back_to_its_owner_and_group(styxy: Styxy) -> None:
    assert os.geteuid() == 0, "CI runs as root; the test needs it to own files as others"
    assert styxy("allocate", "-s", "dev").code == 0  # root's sidecar, made while it was root's
    os.chown(styxy.doc, NOBODY, NOBODY)
    styxy.doc.chmod(0o640)
    before = os.stat(styxy.doc).st_ino
    done = styxy("allocate", "-s", "brandnew", "--yes")
    assert done.code == 0, done.err
    assert "| brandnew |" in styxy.doc.read_text()
    assert os.stat(styxy.doc).st_ino != before  # replaced, not written in place
    assert _owner(styxy.doc) == (NOBODY, NOBODY, 0o640)
    # And once more through `config set`, another path to the same commit.
    assert styxy("config", "set", "auto-allocation.gap-size", "12").code == 0
    assert _owner(styxy.doc) == (NOBODY, NOBODY, 0o640)


def test_root_makes_no_sidecar_beside_another_users_document(styxy: Styxy) -> None:
    # `sudo styxy allocate` made a root-only .styxy beside a user's document, and the user's
    # own commands then failed with "permission denied" on the sidecar.
    os.chown(styxy.doc, NOBODY, NOBODY)
    before = styxy.snapshot()
    done = styxy("allocate", "-s", "dev")
    assert (done.code, done.out) == (1, "")
    assert done.err == (
        f"styxy: {styxy.doc} belongs to user nobody (uid {NOBODY}), and a sidecar made by root "
        f"({styxy.sidecar}) would shut that user out of their leases, so nothing was written: "
        "run the command as that user.\n"
    )
    assert styxy.snapshot() == before and not styxy.sidecar.exists()
    # A command that only reads needs no sidecar and still answers.
    assert styxy("list", "--json").json() == {"leases": []}


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder every user may write, as a team's shared checkout might be."""
    with support.shared_folder(0o777) as folder:
        yield folder


def _as_user(uid: int, gid: int, home: Path, body: Callable[[], str]) -> str:
    """`body` in a forked child that has become user `uid` for good, with its own HOME; its
    answer comes back."""

    def become() -> None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        os.environ["HOME"] = str(home)
        os.environ["STYXY_DATA_DIR"] = str(home / "styxy-data")

    return in_child(become, body)


def _warm(folder: Path) -> None:
    """Run the same calls once as root, on a scratch copy: the child, once another user, can no
    longer read the interpreter's own folder (under /root), so it needs every module loaded."""
    import styxy

    scratch = folder / "scratch" / "PORT_MANAGEMENT.md"
    scratch.parent.mkdir()
    shutil.copyfile(DEFAULT_DOC, scratch)
    styxy.allocate("brandnew", instance_id="x", pid=os.getpid(), yes=True, doc=scratch)
    os.chown(scratch, NOBODY, NOBODY)
    styxy.allocate("brandnew2", instance_id="x", pid=os.getpid(), yes=True, doc=scratch)
    shutil.rmtree(scratch.parent)


def test_another_users_document_is_refused_not_taken_over(shared_folder: Path) -> None:
    import styxy

    _warm(shared_folder)

    doc = shared_folder / "PORT_MANAGEMENT.md"
    shutil.copyfile(DEFAULT_DOC, doc)
    os.chown(doc, NOBODY, NOBODY)
    doc.chmod(0o666)  # even writable by all: a rename would still make it someone else's
    before = doc.read_bytes()
    inode = os.stat(doc).st_ino

    def allocate_new_type() -> str:
        result = styxy.allocate("brandnew", instance_id="x", pid=os.getpid(), yes=True, doc=doc)
        return f"allocated {result.lease.port}"

    home = shared_folder / "home-of-another"
    home.mkdir()
    os.chown(home, ANOTHER, ANOTHER)
    answer = _as_user(ANOTHER, ANOTHER, home, allocate_new_type)
    assert answer == (
        f"RefusedError: {doc} belongs to user nobody (uid {NOBODY}), and styxy cannot give a "
        "new file back to another user, so nothing was written: run the command as that user."
    )
    assert doc.read_bytes() == before and os.stat(doc).st_ino == inode
    assert _owner(doc) == (NOBODY, NOBODY, 0o666)
    assert [p.name for p in shared_folder.iterdir() if p.name.endswith(".tmp")] == []

    # What needs no new document still works for that user: a port of an existing row.
    def allocate_known_type() -> str:
        return str(styxy.allocate("dev", instance_id="x", pid=os.getpid(), doc=doc).lease.port)

    assert _as_user(ANOTHER, ANOTHER, home, allocate_known_type).isdigit()
    assert doc.read_bytes() == before
