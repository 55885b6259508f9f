"""What every command group shares: the port type, `--doc` and `--json`, and the way a
result or a note reaches the terminal."""

# No `from __future__ import annotations` here, on purpose: typer reads every command's
# annotations at start-up, and string annotations would cost an eval and a compile each.

from dataclasses import dataclass
from typing import Any

import typer
from typer._click.core import Context, Parameter
from typer._click.globals import get_current_context
from typer._click.types import ParamType

from styxy import output, refusals


class PortType(ParamType):
    """A port number, checked where it is parsed: `-p 0`, `-p 70000` and `-p abc` are all
    usage errors (exit 2), in the words every front end uses (`styxy.refusals`)."""

    name = "port"

    def convert(self, value: Any, param: Parameter | None, ctx: Context | None) -> int:
        return refusals.port(spelled(param), as_number(value))


class PidType(ParamType):
    """A process id, 1..4194304, refused in the same words as over MCP and HTTP."""

    name = "pid"

    def convert(self, value: Any, param: Parameter | None, ctx: Context | None) -> int:
        return refusals.pid(spelled(param), as_number(value))


def as_number(value: Any) -> Any:
    """The integer a word spells exactly (`3010`, not `03010` or `3e3`), else the word.

    A word of more than 20 digits stays a word (refused as one, and shown cut short): Python
    refuses to convert more than 4,300 digits, and no port or pid is that long."""
    word = value.strip() if isinstance(value, str) else ""
    if word.isascii() and word.lstrip("-").isdigit() and len(word) <= 21:
        number = int(word)
        return number if str(number) == word else value
    return value


def spelled(param: Parameter | None) -> str:
    """How the command line names a parameter in a sentence: its long flag, or PORT."""
    if param is None:
        return "the value"
    flags = [opt for opt in param.opts if opt.startswith("--")]
    # `PORT|NAME|import` (iana) is spelled by what the value was taken for: PORT.
    words = (param.metavar or param.name or "value").strip("[]").split("|")[0]
    return flags[0] if flags else words.upper()


PORT = PortType()
PID = PidType()
PortOption = typer.Option(None, "-p", "--port", click_type=PORT)
DocOption = typer.Option(
    None, "--doc", help="The document (default: $STYXY_DOC, ~/docs/CORE/PORT_MANAGEMENT.md)."
)
JsonOption = typer.Option(False, "--json", help="One JSON object on stdout.")
NewTypeOption = typer.Option(
    False,
    "--new-type",
    help="Add a range for a new service type even when its name is close to a known one.",
)


@dataclass(frozen=True)
class Options:
    """The options given before the subcommand: the root context's `obj`."""

    doc: str | None = None
    json: bool = False


def root_options() -> Options:
    obj = get_current_context().find_root().obj
    return obj if isinstance(obj, Options) else Options()


def doc_of(doc: str | None) -> str | None:
    """`--doc` after the subcommand wins over `--doc` before it."""
    return doc or root_options().doc


def wants_json(flag: bool) -> bool:
    return flag or root_options().json


def emit(json_flag: bool, value: Any, text: str) -> None:
    if wants_json(json_flag):
        output.as_json(value)
    elif text:
        output.result(text)


def notify(text: str) -> None:
    from styxy.vocabulary import Notice

    # A line whose wording the spec fixes is shown as it is; any other is a `styxy:` note.
    if isinstance(text, Notice):
        output.message(text)
    else:
        output.note(text)


# Shell completion (typer's autocompletion callbacks). They run while the shell asks, with no
# callback of the root command invoked, so `--doc` is read from the parsed words of any level.


def _completion_doc(ctx: typer.Context) -> str | None:
    level: Context | None = ctx
    while level is not None:
        found = level.params.get("doc")
        if isinstance(found, str) and found:
            return found
        level = level.parent
    return None


def complete_service_type(ctx: typer.Context, incomplete: str) -> list[str]:
    """The document's service types, read without the lock (a shell waits on this)."""
    from styxy.api.config import service_type_names

    return [n for n in service_type_names(doc=_completion_doc(ctx)) if n.startswith(incomplete)]


def complete_setting(incomplete: str) -> list[str]:
    """The settings keys of `config get|set`, and `auto-allocation-rule`."""
    from styxy.api.config import setting_names

    keys = [*setting_names(), "auto-allocation-rule"]
    return [key for key in keys if key.startswith(incomplete)]
