"""The variables of a project as text: `sh`, `dotenv`, and styxy's block inside a `.env` file.

`--write FILE` owns only the lines from `# >>> styxy >>>` to `# <<< styxy <<<`. Everything
else is kept byte for byte (the file is handled as bytes, so a line in another encoding
survives too); the block is appended when absent, with the file's own line ending. A file
whose markers do not form exactly one block is refused before anything is allocated.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from styxy.api import files
from styxy.errors import Diagnostic, DocumentError, InvalidValueError
from styxy.project.files import ENV_FILE, shown
from styxy.records import record

START = b"# >>> styxy >>>"
END = b"# <<< styxy <<<"
NOTE = b"# Written by `styxy env`: lines between these markers are replaced on every run."
_SETS = re.compile(rb"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def dotenv_lines(variables: Mapping[str, str]) -> list[str]:
    return [f"{name}={value}" for name, value in variables.items()]


def sh_lines(variables: Mapping[str, str]) -> list[str]:
    return [f"export {name}={_quote(value)}" for name, value in variables.items()]


def _quote(value: str) -> str:
    # Always quoted, so `eval "$(styxy env --format sh)"` stays safe whatever a value holds.
    return "'" + value.replace("'", "'\\''") + "'"


@record
class EnvFile:
    """A `.env` file as read before allocating: where it is, its bytes, and its block's place."""

    path: Path
    target: Path  # the file itself: a symbolic link is written through, never replaced
    data: bytes | None
    block: tuple[int, int] | None  # first and last line index of styxy's block

    @property
    def lines(self) -> list[bytes]:
        return (self.data or b"").splitlines(keepends=True)


def read(path: Path, root: Path) -> EnvFile:
    """Read `path` and find styxy's block; refuses a file whose markers are not one block, and
    a link out of the project `root` to a file that holds no styxy block yet."""
    target = Path(os.path.realpath(path))
    if not target.parent.is_dir():
        raise InvalidValueError(f"cannot write {path}: there is no folder {target.parent}.")
    data = files.read_optional(target, ENV_FILE)
    lines = (data or b"").splitlines(keepends=True)
    env = EnvFile(path, target, data, _find_block(lines, shown(path)))
    if env.block is None and _leaves(path, target, root):
        # A cloned repository may ship `.env` as a link to ~/.bashrc or ~/.gitconfig: styxy
        # would append its block there. A target named on purpose (`--write` of the target
        # itself) starts a block; a link to it is written through from then on.
        how = "is a symbolic link" if os.path.islink(path) else "leads through a symbolic link"
        raise InvalidValueError(
            f"cannot write {shown(path)}: it {how} to {shown(target)}, outside the "
            f"project {root}, which holds no styxy block; name that file with --write "
            "to start one there, or remove the link."
        )
    return env


def _leaves(path: Path, target: Path, root: Path) -> bool:
    """Whether links take `path` out of `root`: it is a link whose final target is outside, or
    it is named inside the project (`config/.env`) and a linked folder on the way leads out."""
    if target.is_relative_to(os.path.realpath(root)):
        return False
    named_inside = Path(os.path.normpath(path)).is_relative_to(os.path.normpath(root))
    return named_inside or os.path.islink(path)


def _find_block(lines: list[bytes], name: str) -> tuple[int, int] | None:
    starts = [i for i, line in enumerate(lines) if line.strip() == START]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if not starts and not ends:
        return None
    if len(starts) == 1 and len(ends) == 1 and starts[0] < ends[0]:
        return starts[0], ends[0]
    if len(starts) > 1 or len(ends) > 1:
        line = (starts[1:] or ends[1:])[0]
        message = (
            "a second styxy block; keep one block between '# >>> styxy >>>' and '# <<< styxy <<<'"
        )
    elif not ends:
        line, message = starts[0], "'# >>> styxy >>>' has no closing '# <<< styxy <<<' after it"
    else:
        line, message = ends[0], "'# <<< styxy <<<' has no opening '# >>> styxy >>>' before it"
    raise DocumentError([Diagnostic(name, line + 1, f"{message}; fix the markers by hand")])


def spliced(env: EnvFile, variables: Mapping[str, str]) -> bytes:
    """The file's bytes with styxy's block holding `variables`, every other line untouched."""
    lines = env.lines
    newline = b"\r\n" if lines and lines[0].endswith(b"\r\n") else b"\n"
    block = [START, NOTE, *(line.encode() for line in dotenv_lines(variables)), END]
    encoded = [line + newline for line in block]
    if env.block is None:
        if lines and not lines[-1].endswith((b"\n", b"\r")):
            lines[-1] += newline
        return b"".join([*lines, *encoded])
    first, last = env.block
    return b"".join([*lines[:first], *encoded, *lines[last + 1 :]])


def shadowed(env: EnvFile, variables: Mapping[str, str]) -> list[tuple[int, str]]:
    """Lines outside the block that set one of styxy's variables (line number, name)."""
    found = []
    for index, line in enumerate(env.lines):
        if env.block is not None and env.block[0] <= index <= env.block[1]:
            continue
        match = _SETS.match(line)
        if match and match.group(1).decode() in variables:
            found.append((index + 1, match.group(1).decode()))
    return found


def write(env: EnvFile, data: bytes) -> bool:
    """Replace the file atomically (keeping its mode); False when it already holds `data`.

    Writing only on a change keeps the file's time, so a dev server that watches `.env`
    (Vite, Next.js) does not restart for nothing.
    """
    if env.data == data:
        return False
    if env.data is not None:
        mode = os.stat(env.target).st_mode & 0o7777
    else:
        mode = files.creation_mode() & 0o644  # 0644 less the umask
    files.write_bytes(env.target, data, mode=mode)
    return True

