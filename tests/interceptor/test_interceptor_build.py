"""Building the library: exports, styxy.api.interceptor.build/library_path/env_lines."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from interceptor_support import *  # the pytest fixtures: built, ports, workdir, cache_file
from interceptor_support import Built

from styxy.api import interceptor
from styxy.errors import InterceptorError


def defined_dynamic_symbols(library: Path) -> list[str]:
    out = subprocess.run(
        ["nm", "-D", "--defined-only", str(library)], capture_output=True, text=True, check=True
    ).stdout
    return sorted(line.split()[-1] for line in out.splitlines() if line.strip())


@pytest.mark.skipif(shutil.which("nm") is None, reason="nm (binutils) is not installed")
def test_make_build_exports_bind_alone(built: Built) -> None:
    assert defined_dynamic_symbols(built.library) == ["bind"]


@pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf is not installed")
def test_library_needs_no_executable_stack_and_binds_now(built: Built) -> None:
    out = subprocess.run(
        ["readelf", "-d", "-l", "-W", str(built.library)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "BIND_NOW" in out or ("FLAGS_1" in out and "NOW" in out)
    stack = [line for line in out.splitlines() if "GNU_STACK" in line]
    assert stack and "RWE" not in stack[0]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("STYXY_DATA_DIR", str(folder))
    monkeypatch.delenv("CC", raising=False)
    return folder


def test_library_path_before_build_says_what_to_do(data_dir: Path) -> None:
    with pytest.raises(InterceptorError) as info:
        interceptor.library_path()
    assert str(info.value) == (
        f"The interceptor is not built ({data_dir / 'lib' / 'libstyxy-intercept.so'} is "
        "missing); run `styxy interceptor build`."
    )


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_build_compiles_into_the_data_dir_once(data_dir: Path) -> None:
    library = interceptor.build()
    assert library == data_dir / "lib" / "libstyxy-intercept.so"
    assert interceptor.library_path() == library
    assert interceptor.is_current()
    if shutil.which("nm"):
        assert defined_dynamic_symbols(library) == ["bind"]
    first = library.stat().st_mtime_ns
    assert interceptor.build() == library
    assert library.stat().st_mtime_ns == first  # same source: not rebuilt
    interceptor.build(force=True)
    assert library.stat().st_mtime_ns != first
    assert sorted(p.name for p in library.parent.iterdir()) == [
        "libstyxy-intercept.so",
        "libstyxy-intercept.so.sha256",
    ]


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_build_honours_cc(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "cc.log"
    wrapper = tmp_path / "mycc"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {shlex.quote(str(log))}\nexec cc "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("CC", str(wrapper))
    interceptor.build()
    assert "-fvisibility=hidden" in log.read_text()


def test_build_without_a_compiler_says_so(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(data_dir))  # a folder with no compiler in it
    with pytest.raises(InterceptorError) as info:
        interceptor.build()
    assert str(info.value) == (
        "No C compiler found (tried $CC, cc, gcc, clang); install one "
        "(e.g. `apt-get install gcc`) and run `styxy interceptor build` again."
    )
    monkeypatch.setenv("CC", "/nonexistent/cc")
    with pytest.raises(
        InterceptorError,
        match=r"^The C compiler named by \$CC \(/nonexistent/cc\) was not found\.$",
    ):
        interceptor.build()


def test_build_reports_a_failing_compiler(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "brokencc"
    broken.write_text("#!/bin/sh\necho 'fatal error: stdio.h: No such file' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("CC", str(broken))
    with pytest.raises(InterceptorError) as info:
        interceptor.build()
    assert str(info.value) == "Compiling the interceptor failed: fatal error: stdio.h: No such file"
    assert not (data_dir / "lib" / "libstyxy-intercept.so").exists()
    assert [p.name for p in (data_dir / "lib").iterdir()] == []


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_env_lines_are_absolute_and_quoted(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = interceptor.build()
    folder = tmp_path / "my docs" / ".styxy"
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder.parent)
    lines = interceptor.env_lines(Path(".styxy") / "cache.bin")
    assert lines == [
        f"export LD_PRELOAD={library}",
        f"export STYXY_CACHE={shlex.quote(str(folder / 'cache.bin'))}",
    ]
    assert interceptor.env_vars(".styxy/cache.bin") == {
        "LD_PRELOAD": str(library),
        "STYXY_CACHE": str(folder / "cache.bin"),
    }
    # The lines survive eval in a real shell.
    script = "\n".join(lines) + '\nprintf "%s|%s" "$LD_PRELOAD" "$STYXY_CACHE"'
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out == f"{library}|{folder / 'cache.bin'}"


def test_module_keeps_to_the_core_rules() -> None:
    source = Path(interceptor.__file__).read_text()
    assert not re.search(r"\bprint\(|sys\.exit|typer", source)


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_build_writes_through_no_planted_symlink(data_dir: Path, tmp_path: Path) -> None:
    """Issue 13, point 11: symlinks at the old fixed temporary names do not redirect the build."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    folder = data_dir / "lib"
    folder.mkdir(parents=True)
    planted = [
        folder / f".libstyxy-intercept.so.{os.getpid()}.tmp",
        folder / f".libstyxy-intercept.so.{os.getpid()}.sha256",
    ]
    for link in planted:
        link.symlink_to(victim)
    library = interceptor.build()
    assert victim.read_bytes() == b"precious\n"
    assert all(link.is_symlink() and link.resolve() == victim for link in planted)
    assert library.is_file() and not library.is_symlink()
    assert library.read_bytes()[:4] == b"\x7fELF"
    assert sorted(p.name for p in folder.iterdir() if not p.is_symlink()) == [
        "libstyxy-intercept.so",
        "libstyxy-intercept.so.sha256",
    ]
