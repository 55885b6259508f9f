"""Secure-execution mode (setuid, setgid, file capabilities): the library stays inert.

The dynamic loader drops LD_PRELOAD for setuid programs, so to reach the library's own
AT_SECURE check the helper links it directly (DT_NEEDED with an absolute run path).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from interceptor_support import *  # the pytest fixtures: built, ports, workdir, cache_file
from interceptor_support import (
    INTERCEPTOR_SRC,
    Built,
    Ports,
    child_env,
    first_free,
    hold,
    make_cache,
)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to run a setuid program as another user",
)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder the `nobody` user can read (pytest's own tmp folders are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="styxy-secure-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def linked_helper(built: Built, folder: Path) -> Path:
    shutil.copy(built.library, folder / "libstyxy-intercept.so")
    helper = folder / "bindstress-linked"
    subprocess.run(
        [
            os.environ.get("CC", "cc"),
            "-O2",
            "-pthread",
            "-o",
            str(helper),
            str(INTERCEPTOR_SRC / "tests" / "bindstress.c"),
            f"-L{folder}",
            "-l:libstyxy-intercept.so",
            f"-Wl,-rpath,{folder}",
        ],
        check=True,
    )
    return helper


def run_as_nobody(helper: Path, port: int, cache_path: Path) -> subprocess.CompletedProcess[bytes]:
    env = child_env(None, cache_path, {"STYXY_DEBUG": "2"})
    return subprocess.run(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            str(helper),
            "readonly",
            str(port),
        ],
        env=env,
        capture_output=True,
        timeout=30,
        check=False,
    )


def test_setuid_program_is_not_intercepted(built: Built, ports: Ports, shared_dir: Path) -> None:
    helper = linked_helper(built, shared_dir)
    cache_path = shared_dir / "cache.bin"
    cache_path.write_bytes(make_cache(ports))  # owned by root: trusted by every user
    cache_path.chmod(0o644)
    requested = ports.dev[0] + 25
    with hold(("127.0.0.1", requested)):
        expected = first_free(*ports.dev)
        # Control: the same program without the setuid bit, as nobody, is moved.
        plain = run_as_nobody(helper, requested, cache_path)
        assert plain.stdout.decode() == f"{expected} {requested}\n", plain.stderr
        helper.chmod(helper.stat().st_mode | stat.S_ISUID)
        secure = run_as_nobody(helper, requested, cache_path)
    assert secure.returncode == 0
    assert secure.stdout.decode() == "errno 98\n"
    assert secure.stderr == b""  # not even a debug line: the library is off
