"""The one place where errors become messages and exit codes (as pre-commit's error_handler).

`main(argv) -> int` never calls `sys.exit`, so tests drive the whole command line in-process.
"""

from __future__ import annotations

import os
import sys

from styxy import output
from styxy.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    DocumentError,
    StyxyError,
)


def main(argv: list[str] | None = None) -> int:
    """Run the app; every error ends here as one sentence and an exit code, never a traceback."""
    from typer.main import get_command

    from styxy.cli.app import app, project_default

    command = get_command(app)
    argv = project_default(sys.argv[1:] if argv is None else argv)
    try:
        code = command.main(args=argv, prog_name="styxy", standalone_mode=False)
    except DocumentError as exc:
        # PATH:LINE: message, bare, as editors and pre-commit expect it.
        output.diagnostic(exc.message)
        return exc.exit_code
    except StyxyError as exc:
        output.error(exc.message)
        return exc.exit_code
    except KeyboardInterrupt:
        output.error("interrupted.")
        return EXIT_INTERRUPTED
    except _click_exceptions() as exc:
        return _click_exit(exc)
    except BrokenPipeError:
        # The reader of stdout went away (`styxy list | head`); not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        # The machine said no (a read-only folder, a full disk): say what and where.
        where = f" ({exc.filename})" if exc.filename else ""
        output.error(f"{exc.strerror or exc}{where}.")
        return EXIT_FAILED
    except Exception as exc:  # a bug of ours: one sentence for the user, the details in a log
        if os.environ.get("STYXY_TRACEBACK"):
            raise
        output.error(f"internal error ({type(exc).__name__}: {exc}); details in {_crash_log()}.")
        return EXIT_FAILED
    return code if isinstance(code, int) else EXIT_OK


def _crash_log() -> str:
    import traceback
    from pathlib import Path

    from platformdirs import user_cache_dir

    folder = Path(user_cache_dir("styxy"))
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "crash.log"
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(traceback.format_exc() + "\n")
    return str(log)


def _click_exceptions() -> tuple[type[BaseException], ...]:
    from typer import _click, exceptions

    return (_click.exceptions.ClickException, exceptions.Abort, exceptions.Exit)


def _click_exit(exc: BaseException) -> int:
    from typer import _click, exceptions

    if isinstance(exc, exceptions.Exit):
        return exc.exit_code
    if isinstance(exc, exceptions.Abort):
        # typer turns an end of input at a prompt into Abort.
        output.error("no answer on standard input; nothing was written.")
        return EXIT_FAILED
    assert isinstance(exc, _click.exceptions.ClickException)
    exc.show()
    return exc.exit_code if isinstance(exc, _click.exceptions.UsageError) else EXIT_USAGE


def main_entry() -> int:
    return main(sys.argv[1:])
