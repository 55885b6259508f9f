"""Build, locate and export the preload library `libstyxy-intercept.so`.

The C source ships inside the wheel (`styxy.resources.shipped("interceptor")`); `build()`
compiles it with the system C compiler into a per-user data folder, so no prebuilt binary is
ever downloaded. The flags match `interceptor/Makefile` (LIB_CFLAGS / LIB_LDFLAGS).
Core code: raises InterceptorError, never prints or exits.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from styxy.errors import InterceptorError
from styxy.paths import data_dir
from styxy.resources import shipped
from styxy.store import atomic

LIBRARY_STEM = "libstyxy-intercept"
LIBRARY_NAME = f"{LIBRARY_STEM}.so"
SOURCES = ("libstyxy-intercept.c", "cache_reader.c")
INPUTS = (*SOURCES, "cache_reader.h", "exports.map")
CFLAGS = ("-std=gnu11", "-O2", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra")
BUILD_TIMEOUT_SECONDS = 120


def _stamp_path(library: Path) -> Path:
    return library.with_name(library.name + ".sha256")


def find_compiler(environ: Mapping[str, str] | None = None) -> list[str]:
    """The C compiler command: `$CC` (may carry flags), else `cc`, else `gcc`, else `clang`."""
    env = os.environ if environ is None else environ
    from_env = env.get("CC", "").strip()
    if from_env:
        command = shlex.split(from_env)
        if shutil.which(command[0], path=env.get("PATH")) is None:
            raise InterceptorError(f"The C compiler named by $CC ({command[0]}) was not found.")
        return command
    for name in ("cc", "gcc", "clang"):
        found = shutil.which(name, path=env.get("PATH"))
        if found:
            return [found]
    raise InterceptorError(
        "No C compiler found (tried $CC, cc, gcc, clang); install one "
        "(e.g. `apt-get install gcc`) and run `styxy interceptor build` again."
    )


def _source_dir() -> Path:
    source = shipped("interceptor")
    missing = [name for name in INPUTS if not (source / name).is_file()]
    if missing:
        raise InterceptorError(
            f"The interceptor source is incomplete in {source} (missing {', '.join(missing)})."
        )
    return source


def _command(compiler: list[str], source: Path, output: Path) -> list[str]:
    return [
        *compiler,
        *CFLAGS,
        "-o",
        str(output),
        *(str(source / name) for name in SOURCES),
        "-shared",
        f"-Wl,--version-script={source / 'exports.map'}",
        "-Wl,-z,now",
        "-pthread",
        "-ldl",
    ]


def _fingerprint(source: Path, compiler: list[str]) -> str:
    """What the built library depends on: the sources, the compiler and the flags."""
    digest = hashlib.sha256()
    for name in INPUTS:
        digest.update(name.encode() + b"\0" + (source / name).read_bytes())
    digest.update("\0".join(_command(compiler, Path("src"), Path("out"))).encode())
    return digest.hexdigest()


def _up_to_date(library: Path, fingerprint: str) -> bool:
    try:
        return library.is_file() and _stamp_path(library).read_text().strip() == fingerprint
    except OSError:
        return False


def build(force: bool = False) -> Path:
    """Compile the library into the data folder (unless already built from the same source).

    The result is written under a temporary name and renamed into place, so programs running
    with the previous library keep their mapping and new ones see a whole file.
    """
    source = _source_dir()
    compiler = find_compiler()
    folder = data_dir() / "lib"
    library = folder / LIBRARY_NAME
    fingerprint = _fingerprint(source, compiler)
    if not force and _up_to_date(library, fingerprint):
        return library
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InterceptorError(f"Cannot create {folder}: {exc.strerror}.") from None
    # An unpredictable name, created exclusively: a symlink planted at a guessable temporary
    # name can not make the compiler write through it (issue 13, point 11).
    try:
        fd, name = tempfile.mkstemp(prefix=f".{LIBRARY_NAME}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InterceptorError(f"Cannot write in {folder}: {exc.strerror}.") from None
    os.close(fd)
    tmp = Path(name)
    try:
        _compile(_command(compiler, source, tmp), tmp)
        # The linker makes its own file at the name: give it the library's usual mode, make it
        # durable, then rename it into place.
        os.chmod(tmp, 0o755 & ~_umask())
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, library)
    finally:
        tmp.unlink(missing_ok=True)
    atomic.write_bytes(_stamp_path(library), (fingerprint + "\n").encode())
    return library


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _compile(command: list[str], output: Path) -> None:
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS, check=False
        )
    except OSError as exc:
        raise InterceptorError(f"Cannot run the C compiler {command[0]}: {exc.strerror}.") from None
    except subprocess.TimeoutExpired:
        output.unlink(missing_ok=True)
        raise InterceptorError("The C compiler did not finish within 120 seconds.") from None
    if result.returncode != 0:
        output.unlink(missing_ok=True)
        detail = _first_error(result.stderr)
        raise InterceptorError(f"Compiling the interceptor failed: {detail}")


def _first_error(stderr: str) -> str:
    """The compiler's first error line, which is the one that explains the rest."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower():
            return line
    return lines[0] if lines else "the compiler exited with an error and said nothing."


def library_path() -> Path:
    """The built library; raises InterceptorError when it has not been built yet."""
    library = data_dir() / "lib" / LIBRARY_NAME
    if not library.is_file():
        raise InterceptorError(
            f"The interceptor is not built ({library} is missing); run `styxy interceptor build`."
        )
    return library


def is_current() -> bool:
    """True when the built library matches the shipped source (for `styxy doctor`)."""
    try:
        source = _source_dir()
        compiler = find_compiler()
        library = library_path()
    except InterceptorError:
        return False
    return _up_to_date(library, _fingerprint(source, compiler))


def ensure_built() -> tuple[Path, bool]:
    """The library, built first if it is missing: (path, whether it was built just now).

    `styxy interceptor env` and `styxy run --intercept` call this, so turning the interceptor on
    is one step for a new user; `styxy interceptor build` stays for rebuilding on purpose.
    """
    try:
        return library_path(), False
    except InterceptorError:
        return build(), True


# ld.so splits LD_PRELOAD on spaces and colons and knows no quoting: a library whose path holds
# one of them is reached through a link at a path without them (see `preload_path`).
_PRELOAD_SEPARATORS = re.compile(r"[ :]")


def preload_entries(value: str) -> list[str]:
    """The objects an LD_PRELOAD value names, split as ld.so splits it."""
    return [entry for entry in _PRELOAD_SEPARATORS.split(value) if entry]


def preload_path(library: Path, *, create: bool = True) -> Path:
    """A path to `library` that LD_PRELOAD can carry: the library itself, or a link to it.

    When the library's path holds a space or a colon (a data folder under "My Files"), a
    symbolic link named after a hash of that path is made in a private folder whose path has
    neither: `$XDG_RUNTIME_DIR/styxy`, else `/tmp/styxy-UID` (mode 0700, owned by this user,
    refused otherwise). With `create=False` the link's path is returned without making it.
    """
    if not _PRELOAD_SEPARATORS.search(str(library)):
        return library
    folder = _alias_folder(create)
    digest = hashlib.sha256(str(library).encode()).hexdigest()[:16]
    alias = folder / f"libstyxy-intercept-{digest}.so"
    if create and not (alias.is_symlink() and os.readlink(alias) == str(library)):
        tmp = folder / f".{alias.name}.{os.urandom(8).hex()}.tmp"
        os.symlink(library, tmp)
        os.replace(tmp, alias)
    return alias


def _alias_folder(create: bool) -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime.startswith("/") and not _PRELOAD_SEPARATORS.search(runtime) and os.path.isdir(
        runtime
    ):
        folder = Path(runtime) / "styxy"
    else:
        folder = Path(tempfile.gettempdir()) / f"styxy-{os.geteuid()}"
    if _PRELOAD_SEPARATORS.search(str(folder)):
        raise InterceptorError(
            f"No folder without spaces or colons for the interceptor's link ({folder}); set "
            "STYXY_DATA_DIR to such a folder and run `styxy interceptor build`."
        )
    if create:
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise InterceptorError(f"Cannot create {folder}: {exc.strerror}.") from None
    try:
        status = folder.lstat()
    except FileNotFoundError:
        return folder  # create=False: the link does not exist yet
    # In a shared /tmp another user could have made the folder first, or put a link there.
    if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.geteuid() or status.st_mode & 0o077:
        raise InterceptorError(
            f"{folder} is not a private folder of this user; remove it and try again."
        )
    return folder


def env_vars(
    cache_path: str | os.PathLike[str], preload: str | None = None, *, create: bool = True
) -> dict[str, str]:
    """The variables that turn the interceptor on: absolute paths, so a `cd` cannot lose them.

    `preload` is the LD_PRELOAD in force (default: this process's): its objects are kept, the
    library goes first, once; a value that already names it is returned unchanged.
    """
    library = str(preload_path(library_path().resolve(), create=create))
    current = os.environ.get("LD_PRELOAD", "") if preload is None else preload
    if library in preload_entries(current):
        value = current
    elif preload_entries(current):
        value = f"{library}:{current}"
    else:
        value = library
    return {
        "LD_PRELOAD": value,
        "STYXY_CACHE": str(Path(cache_path).expanduser().resolve()),
    }


def env_lines(cache_path: str | os.PathLike[str]) -> list[str]:
    """`export NAME=value` lines for `eval "$(styxy interceptor env)"`, every value quoted."""
    return [f"export {name}={_shell_word(value)}" for name, value in env_vars(cache_path).items()]


def _shell_word(value: str) -> str:
    """`value` quoted for the shell, with no control character in the quoted text.

    The lines are code for eval and may be shown on a terminal too. A path holding a control
    character (a folder named with an escape sequence) cannot be printed raw, and shown as
    `\\xNN` inside '...' it would name another file; ANSI-C quoting ($'...', which bash, zsh,
    ksh and POSIX.1-2024 sh read) carries each such byte as `\\xNN` and the shell restores it.
    """
    if value.isprintable():
        return shlex.quote(value)
    escaped = []
    for byte in os.fsencode(value):
        if byte in (0x27, 0x5C):  # ' and \ close or start an escape inside $'...'
            escaped.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            escaped.append(chr(byte))
        else:  # a control character, or a byte of a non-ASCII character: exact either way
            escaped.append(f"\\x{byte:02x}")
    return "$'" + "".join(escaped) + "'"


# The test program: prints the objects mapped into it (the preloaded ones among them).
_SHOW_MAPS = "import sys; sys.stdout.write(open('/proc/self/maps').read())"


@dataclass(frozen=True)
class LoadCheck:
    """Whether a real program started with an LD_PRELOAD value maps the built library."""

    loads: bool
    reason: str | None  # why not, in words (ld.so's own message when it gave one)


def check_loads(preload: str, library: Path) -> LoadCheck:
    """Start a tiny real program with LD_PRELOAD=`preload` and look for `library` in its maps.

    The interceptor stays inert in it (STYXY_INTERCEPT=0): only the loading is tested.
    """
    target = library.resolve()
    try:
        wanted = os.stat(target)
    except OSError as exc:
        return LoadCheck(False, f"{target}: {exc.strerror}")
    env = {**os.environ, "LD_PRELOAD": preload, "STYXY_INTERCEPT": "0"}
    env.pop("STYXY_CACHE", None)
    try:
        done = subprocess.run(
            [sys.executable, "-S", "-c", _SHOW_MAPS],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return LoadCheck(False, f"the test program did not run ({exc})")
    for line in done.stdout.splitlines():
        fields = line.split(maxsplit=5)
        # The path ld.so mapped, or (on file systems that show another path) the same inode.
        if len(fields) == 6 and (
            fields[5] == str(target)
            or (fields[4] == str(wanted.st_ino) and fields[5].endswith(f"/{target.name}"))
        ):
            return LoadCheck(True, None)
    said = [x.strip() for x in done.stderr.splitlines() if "LD_PRELOAD" in x]
    if said:
        return LoadCheck(False, said[0])
    return LoadCheck(False, f"LD_PRELOAD does not name {library}")
