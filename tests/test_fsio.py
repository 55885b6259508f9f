"""styxy.store.fsio: the safe reader every file of styxy goes through, and the one the readers of
`styxy.toml` and coding agents' settings files reuse."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from styxy.errors import UnsafeFileError
from styxy.store import fsio


def test_a_regular_file_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "styxy.toml"
    path.write_text('[project]\nname = "x"\n')
    assert fsio.read_text(path, fsio.CONFIG) == '[project]\nname = "x"\n'
    assert fsio.read_optional(tmp_path / "missing", fsio.CONFIG) is None
    with pytest.raises(FileNotFoundError):
        fsio.read_bytes(tmp_path / "missing", fsio.CONFIG)


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda p: os.mkfifo(p), "a FIFO"),
        (lambda p: p.mkdir(), "a directory"),
        (lambda p: p.symlink_to("/dev/null"), "a character device"),
    ],
)
def test_what_is_not_a_regular_file_is_named_and_refused_at_once(
    tmp_path: Path, make: object, what: str
) -> None:
    path = tmp_path / "settings.json"
    make(path)  # type: ignore[operator]
    with pytest.raises(UnsafeFileError) as refused:
        fsio.read_json(path)
    assert str(refused.value) == (
        f"the settings file {path} is {what}, not a regular file; styxy reads only regular files."
    )


def test_every_kind_has_a_limit_the_message_names(tmp_path: Path) -> None:
    path = tmp_path / "styxy.toml"
    path.write_bytes(b"#" * (fsio.CONFIG.limit + 1))
    with pytest.raises(UnsafeFileError) as refused:
        fsio.read_text(path, fsio.CONFIG)
    assert str(refused.value) == (
        f"the configuration file {path} is larger than 1 MiB, the most styxy reads of the "
        "configuration file."
    )
    path.write_bytes(b"#" * fsio.CONFIG.limit)
    assert len(fsio.read_text(path, fsio.CONFIG)) == fsio.CONFIG.limit


def test_json_nested_too_deeply_is_a_value_error_not_a_recursion_error(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(b"[" * 500_000)
    with pytest.raises(ValueError, match="nests JSON too deeply to read"):
        fsio.read_json(path)
    path.write_text(json.dumps({"hooks": {"SessionStart": []}}))
    assert fsio.read_json(path) == {"hooks": {"SessionStart": []}}


def test_links_and_other_users_files_are_refused_where_asked(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.write_bytes(b"x")
    link = tmp_path / "link"
    link.symlink_to(real)
    assert fsio.read_bytes(link, fsio.JOURNAL) == b"x"
    with pytest.raises(UnsafeFileError, match="is a symbolic link; styxy does not follow links"):
        fsio.read_bytes(link, fsio.JOURNAL, follow_links=False)
    if os.geteuid() == 0:
        os.chown(real, 65534, 65534)
        with pytest.raises(UnsafeFileError, match=r"belongs to user nobody \(uid 65534\)"):
            fsio.read_bytes(real, fsio.JOURNAL, private=True)
        os.chown(real, 0, 0)
        assert fsio.read_bytes(real, fsio.JOURNAL, private=True) == b"x"


def test_creation_mode_follows_the_umask() -> None:
    old = os.umask(0o027)
    try:
        assert fsio.creation_mode() == 0o640
    finally:
        os.umask(old)
    assert stat.S_IMODE(fsio.PRIVATE_FILE_MODE) == 0o600
