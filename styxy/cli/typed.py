"""The typer app, built from the command table: help, completion and usage errors.

Every command of `styxy.cli.table` becomes a typer command whose parameters are the entry's,
with the same flags, help and types; its callback turns typer's values into the same `Call`
the fast path makes (`styxy.cli.fast`) and hands it to `dispatch`. Tests build the app with a
recording `dispatch` to check that both paths parse every command alike.
"""

# No `from __future__ import annotations` here, on purpose: typer reads the annotations of
# every generated signature at start-up; real types spare it an eval each.

import inspect
from collections.abc import Callable
from enum import Enum, StrEnum
from typing import Any

import typer
from typer._click.core import Context, Parameter
from typer._click.globals import get_current_context
from typer._click.types import ParamType

from styxy import __version__, output, refusals
from styxy.cli import table
from styxy.cli.common import as_number
from styxy.cli.fast import Call

Dispatch = Callable[[Call], int]


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


COMPLETERS: dict[str, Callable[..., list[str]]] = {
    table.SERVICE_TYPES: complete_service_type,
    table.SETTINGS: complete_setting,
}


class RootOptions:
    """The options given before the subcommand: the root context's `obj`."""

    __slots__ = ("doc", "json")

    def __init__(self, doc: str | None, json: bool) -> None:
        self.doc = doc
        self.json = json


def build(dispatch: Dispatch) -> typer.Typer:
    """The typer app of every command in the table; each runs through `dispatch`."""
    app = typer.Typer(
        add_completion=False,  # added by the boundary only when asked for: see boundary._command
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        help=table.ROOT_HELP,
        epilog=table.ROOT_EPILOG,
    )
    app.callback()(_root_callback())
    owners: dict[tuple[str, ...], typer.Typer] = {(): app}
    for group in table.GROUPS:
        owners[group.words] = typer.Typer(no_args_is_help=True, help=group.help)
    for command in table.COMMANDS:
        owners[command.words[:-1]].command(
            command.name, help=command.help, context_settings=_context_settings(command)
        )(_callback(command, dispatch))
    for group in table.GROUPS:
        owners[group.words[:-1]].add_typer(owners[group.words], name=group.name)
    return app


def _context_settings(command: table.Command) -> dict[str, bool] | None:
    if command.lenient or command.trailing:
        return {"ignore_unknown_options": True, "allow_extra_args": True}
    if command.loose:
        return {"ignore_unknown_options": True}
    return None


def _version(value: bool) -> None:
    if value:
        output.result(f"styxy {__version__}")
        raise typer.Exit()


def _root_callback() -> Callable[..., None]:
    def main(
        ctx: typer.Context,
        doc: str | None = _typer_param(table.DOC)[1],
        json: bool = _typer_param(table.JSON)[1],
        version: bool = typer.Option(
            False, "-V", "--version", callback=_version, is_eager=True, help="Print the version."
        ),
    ) -> None:
        ctx.obj = RootOptions(doc, json)

    return main


def _callback(command: table.Command, dispatch: Dispatch) -> Callable[..., None]:
    def callback(**given: Any) -> None:
        code = dispatch(Call(command, values(command, given, get_current_context())))
        if code:
            raise typer.Exit(code)

    parameters = [
        inspect.Parameter(
            "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
        )
    ] if command.lenient else []
    for param in command.params:
        annotation, default = _typer_param(param)
        parameters.append(
            inspect.Parameter(
                param.dest,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=default,
                annotation=annotation,
            )
        )
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    callback.__name__ = command.name.replace("-", "_")
    return callback


def values(command: table.Command, given: dict[str, Any], ctx: Context) -> dict[str, object]:
    """typer's values as the fast path gives them: root options merged, plain types."""
    root = ctx.find_root().obj
    doc, json = (root.doc, root.json) if isinstance(root, RootOptions) else (None, False)
    found: dict[str, object] = {}
    for param in command.params:
        value = given[param.dest]
        if param.kind == table.WORDS:
            value = list(value or [])
        elif isinstance(value, Enum):
            value = value.value
        found[param.dest] = value
    if "doc" in found:
        found["doc"] = found["doc"] or doc
    if "json" in found:
        found["json"] = found["json"] or json
    if command.lenient:
        found["extra"] = list(given["ctx"].args)
    return found


def _choices(option: table.Option) -> Any:
    """An enum of the option's choices: typer shows them (`<dotenv|sh|json>`) and checks them."""
    return StrEnum(option.dest.strip("_").title(), {choice: choice for choice in option.choices})


def _typer_param(param: table.Param) -> tuple[Any, Any]:
    """The annotation and the typer default (`typer.Option(...)`) of one table entry."""
    required = param.required
    default = ... if required else param.default
    annotation: Any = {
        table.TEXT: str,
        table.FLAG: bool,
        table.INT: int,
        table.PORT: int,
        table.PID: int,
        table.WORDS: list[str],
    }.get(param.kind)
    extra: dict[str, Any] = {}
    if param.complete is not None:
        extra["autocompletion"] = COMPLETERS[param.complete]
    if param.kind == table.PORT:
        extra["click_type"] = PORT
    elif param.kind == table.PID:
        extra["click_type"] = PID
    elif param.kind == table.CHOICE:
        assert isinstance(param, table.Option)
        annotation = _choices(param)
    if default is None and param.kind != table.FLAG:
        annotation = annotation | None
    if param.metavar is not None:
        extra["metavar"] = param.metavar
    if param.help is not None:
        extra["help"] = param.help
    if isinstance(param, table.Argument):
        return annotation, typer.Argument(default, **extra)
    return annotation, typer.Option(default, *param.flags, **extra)
