"""The one place where errors become messages and exit codes (as pre-commit's error_handler).

`main(argv) -> int` never calls `sys.exit`, so tests drive the whole command line in-process.
The click command runs without its standalone mode and without `Command.main`, whose wrapper
would turn Ctrl-C into a silent exit 130 and a closed stdout into exit 1 before this module
saw either. Exit codes (docs/GUIDE.md, "Exit codes"): 0 success, 1 refused or failed (an
internal error too, with a crash log), 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import errno
import os
import re
import sys

from styxy import output
from styxy.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    DocumentError,
    StyxyError,
    os_error_sentence,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typer import _click


def main(argv: list[str] | None = None) -> int:
    """Run the command line; every outcome ends here as an exit code, never a traceback."""
    args = sys.argv[1:] if argv is None else list(argv)
    json = wants_json(args)  # before click parses `args`, which it consumes in place
    try:
        code = _invoke(list(args))
    except BaseException as exc:  # this is the boundary: everything is turned into a code here
        code = _reported(exc, json=json)
    return _flushed(code)


def main_entry() -> int:
    return main(sys.argv[1:])


def wants_json(args: list[str]) -> bool:
    """`--json` anywhere before `--`: after it, words belong to the command `styxy run` starts.

    Read from the words rather than the parsed options, so a usage error that click raises
    before it has read `--json` is still answered in JSON.
    """
    words = args[: args.index("--")] if "--" in args else args
    return "--json" in words


# The words that need typer's completion options on the root command.
_COMPLETION_WORDS = frozenset({"--install-completion", "--show-completion", "--help"})


def _invoke(args: list[str]) -> int:
    """Run the command: plain words on the fast path, anything else through typer."""
    from styxy.cli import fast

    words = list(args)
    if "--project" in words:  # an optional value: see project_default
        from styxy.cli.projects import project_default

        words = project_default(words)
    call = fast.parse(words)
    if call is not None:
        return fast.run(call)
    return _typer(words)


def _typer(args: list[str]) -> int:
    from typer.core import _typer_main_shell_completion

    command = _command(args)
    # `_STYXY_COMPLETE=...` is a request from the shell's completion script (typer's own).
    _typer_main_shell_completion(command, ctx_args={}, prog_name="styxy")
    with command.make_context("styxy", args) as ctx:
        command.invoke(ctx)
    return EXIT_OK


def _command(args: list[str]) -> _click.Command:
    """The click command; typer's completion options only when a word asks for them.

    Building them registers typer's shell classes and inspects a placeholder signature (about
    1 ms, measured), work a command's usage error need not do; `--help` and a bare `styxy`
    still list them.
    """
    from typer.main import get_command, get_install_completion_arguments

    from styxy.cli.app import app

    command = get_command(app)
    if not args or _COMPLETION_WORDS.intersection(args):
        command.params.extend(get_install_completion_arguments())
    return command


def _reported(exc: BaseException, *, json: bool) -> int:
    """`_report`, whose own writes may fail too (stderr closed): the code survives them."""
    try:
        return _report(exc, json=json)
    except (OSError, ValueError) as problem:
        if problem is exc:
            raise  # STYXY_TRACEBACK: a bug of ours re-raised on purpose, for the test suite
        if isinstance(exc, StyxyError):
            return exc.exit_code
        return EXIT_INTERRUPTED if isinstance(exc, KeyboardInterrupt) else EXIT_FAILED


def _report(exc: BaseException, *, json: bool) -> int:
    """Say what went wrong, once, and give the exit code; a bug of ours ends in a crash log."""
    if _is_closed_stdout(exc):
        # The reader of stdout went away (`styxy list | head -0`): not an error of ours.
        _silence_stdout()
        return EXIT_OK
    if isinstance(exc, SystemExit):
        return _system_exit(exc)
    if isinstance(exc, DocumentError):
        # PATH:LINE: message, bare, as editors and pre-commit expect it.
        output.diagnostic(exc.message)
        return _as_json(exc.message, exc.exit_code, json)
    known = _known(exc)
    if known is None:
        return _crashed(exc, json=json)
    sentence, code = known
    if sentence is not None:
        output.error(sentence)
        return _as_json(sentence, code, json)
    return code


def _known(exc: BaseException) -> tuple[str | None, int] | None:
    """The sentence and the code of an outcome styxy expects; None for a bug of ours."""
    if isinstance(exc, StyxyError):
        return exc.said(spelled), exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted.", EXIT_INTERRUPTED
    if isinstance(exc, EOFError):
        return _NO_ANSWER, EXIT_FAILED
    if "typer" in sys.modules:  # else no typer exception can have been raised
        known = _typer_known(exc)
        if known is not None:
            return known
    if isinstance(exc, OSError):
        # The machine said no (a read-only folder, a full disk): say what and where.
        return os_error_sentence(exc), EXIT_FAILED
    return None


_NO_ANSWER = "no answer on standard input; nothing was written."


def _typer_known(exc: BaseException) -> tuple[str | None, int] | None:
    from typer import _click, exceptions

    if isinstance(exc, exceptions.Abort):
        return _NO_ANSWER, EXIT_FAILED
    if isinstance(exc, exceptions.Exit):
        return None, exc.exit_code
    if isinstance(exc, _click.exceptions.NoArgsIsHelpError):
        exc.show()  # a bare `styxy` or `styxy config`: the help, and the usage error code
        return None, EXIT_USAGE
    if isinstance(exc, _click.exceptions.ClickException):
        return _usage_sentence(exc), EXIT_USAGE
    return None


# The command line's names of the parameters a sentence of the core names (`styxy.refusals`):
# each is the option a user types, or the argument's name in the help.
_SPELLING = {
    "lock_id": "LOCK_ID",
    "port": "--port",
    "preferred_port": "--port",
}


def spelled(key: str) -> str:
    """`--instance-id` for `instance_id`: a parameter as the command line names it."""
    return _SPELLING.get(key) or "--" + key.replace("_", "-")


_QUOTED = re.compile(r"'([^']{41,})'")


def _cut(found: re.Match[str]) -> str:
    return f"'{found.group(1)[:40]}...'"


def _usage_sentence(exc: _click.exceptions.ClickException) -> str:
    """Click's message as one sentence that names the help to read next."""
    from typer import _click

    # A value quoted in full would be 5,000 digits long on the terminal: cut at 40 characters.
    text = _QUOTED.sub(_cut, exc.format_message()).rstrip(".")
    ctx = exc.ctx if isinstance(exc, _click.exceptions.UsageError) else None
    where = ctx.command_path if ctx is not None else "styxy"
    return f"{text}; see '{where} --help'."


def _as_json(sentence: str, code: int, json: bool) -> int:
    """With `--json` a refusal is one JSON object on stdout too, with the same sentence."""
    if json:
        output.as_json({"error": sentence, "code": code})
    return code


def _system_exit(exc: SystemExit) -> int:
    # typer's own `--install-completion` ends with sys.exit(0) after saying what it did.
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or EXIT_OK
    output.error(str(exc.code))
    return EXIT_FAILED


def _crashed(exc: BaseException, *, json: bool) -> int:
    """The last resort: one sentence and exit 1, whatever else fails on the way (no raise)."""
    if os.environ.get("STYXY_TRACEBACK"):
        raise exc  # the test suite wants to see its bugs as tracebacks
    try:
        where = f"details in {_crash_log(exc)}"
    except Exception as problem:  # a read-only home, a bad XDG_CACHE_HOME: say so and go on
        where = f"no crash log could be written: {os_error_sentence(problem).rstrip('.')}"
    sentence = f"internal error ({type(exc).__name__}: {exc}); {where}."
    try:
        output.error(sentence)
        _as_json(sentence, EXIT_FAILED, json)
    except Exception:
        pass  # stderr itself is gone: the exit code is all that is left to say it
    return EXIT_FAILED


def _crash_log(exc: BaseException) -> str:
    import traceback
    from pathlib import Path

    from platformdirs import user_cache_dir

    folder = Path(user_cache_dir("styxy"))
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "crash.log"
    with open(log, "a", encoding="utf-8") as handle:
        handle.write("".join(traceback.format_exception(exc)) + "\n")
    return str(log)


def _is_closed_stdout(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno == errno.EPIPE


def _flushed(code: int) -> int:
    """Flush stdout inside the boundary, so a reader that went away does not surface at exit."""
    try:
        sys.stdout.flush()
    except OSError as exc:
        if not _is_closed_stdout(exc):
            # The result could not be written (a full disk behind a redirection): a failure.
            output.error(os_error_sentence(exc))
            return code or EXIT_FAILED
        _silence_stdout()
    except ValueError:
        pass  # stdout was closed by the program itself: nothing is left to flush
    return code


def _silence_stdout() -> None:
    # Later writes and the interpreter's own flush at exit go nowhere instead of failing again.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
