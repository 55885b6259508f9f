"""Build, locate and export the preload library `libstyxy-intercept.so`.

The C source ships inside the wheel (`styxy.resources.shipped("interceptor")`); `build()`
compiles it with the system C compiler into a per-user data folder, so no prebuilt binary is
ever downloaded. The flags match `interceptor/Makefile` (LIB_CFLAGS / LIB_LDFLAGS).
Core code: raises InterceptorError, never prints or exits.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from styxy.errors import InterceptorError
from styxy.paths import data_dir
from styxy.resources import shipped

LIBRARY_NAME = "libstyxy-intercept.so"
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
    tmp = folder / f".{LIBRARY_NAME}.{os.getpid()}.tmp"
    _compile(_command(compiler, source, tmp), tmp)
    os.replace(tmp, library)
    stamp_tmp = tmp.with_suffix(".sha256")
    stamp_tmp.write_text(fingerprint + "\n")
    os.replace(stamp_tmp, _stamp_path(library))
    return library


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


def env_vars(cache_path: str | os.PathLike[str]) -> dict[str, str]:
    """The variables that turn the interceptor on: absolute paths, so a `cd` cannot lose them."""
    return {
        "LD_PRELOAD": str(library_path().resolve()),
        "STYXY_CACHE": str(Path(cache_path).expanduser().resolve()),
    }


def env_lines(cache_path: str | os.PathLike[str]) -> list[str]:
    """`export NAME=value` lines for `eval "$(styxy interceptor env)"`."""
    return [f"export {name}={shlex.quote(value)}" for name, value in env_vars(cache_path).items()]
