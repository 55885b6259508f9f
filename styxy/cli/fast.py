"""Plain words parsed with the command table alone, without importing typer.

`parse` understands the common shape of a command line (root `--doc`/`--json`, the command's
words, its options as `--flag VALUE`, `--flag=VALUE` or a bare flag, its arguments, `--`) and
returns the call to make; for anything else it returns None and typer parses the words:
`--help`, completion, `-V`, a word it does not know, an option given twice, a value that does
not convert, a missing required parameter, short options run together. So every usage error
comes from the typer path, in its words, and the fast path never has to say one.
"""

from __future__ import annotations

import os

from styxy.cli import table

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from collections.abc import Sequence

    from styxy.cli.table import Argument, Command, Option

# typer's completion protocol (`_STYXY_COMPLETE=...` in the environment of a completion call).
COMPLETION_VARIABLE = "_STYXY_COMPLETE"


class Call:
    """A parsed command line: the command and the value of every one of its parameters."""

    __slots__ = ("command", "values")

    def __init__(self, command: Command, values: dict[str, object]) -> None:
        self.command = command
        self.values = values

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Call)
            and other.command is self.command
            and other.values == self.values
        )

    def __hash__(self) -> int:
        return hash(self.command.words)

    def __repr__(self) -> str:
        return f"Call({' '.join(self.command.words)!r}, {self.values!r})"


def parse(args: Sequence[str]) -> Call | None:
    """The call `args` asks for, or None when typer must parse them."""
    if COMPLETION_VARIABLE in os.environ:
        return None
    root: dict[str, object] = {}
    index = _options(table.ROOT_OPTIONS, args, 0, root)
    if index is None or index >= len(args):
        return None
    words: tuple[str, ...] = (args[index],)
    groups = {group.words for group in table.GROUPS}
    while words in groups:
        if index + len(words) >= len(args):
            return None
        words += (args[index + len(words)],)
    command = table.find(words)
    if command is None:
        return None
    values = _command_values(command, args[index + len(words) :])
    if values is None:
        return None
    if "doc" in values:
        values["doc"] = values["doc"] or root.get("doc")
    if "json" in values:
        values["json"] = values["json"] or root.get("json", False)
    if command.lenient:
        values["extra"] = []
    return Call(command, values)


def run(call: Call) -> int:
    """Run a parsed call; its exit code."""
    if not call.command.lasting:
        # A command that answers once keeps what it builds until it exits, and builds no
        # cycles worth finding: the collector's passes over 10,000 leases were a sixth of
        # `styxy list --json` at the supported size (docs/PERFORMANCE.md).
        import gc

        gc.disable()
    return table.target(call.command)(**call.values) or 0


def _options(
    options: Sequence[Option], args: Sequence[str], index: int, values: dict[str, object]
) -> int | None:
    """Read options from `index` up to the first word that is not one; None if one is unknown."""
    while index < len(args) and args[index].startswith("-"):
        taken = _option(options, args, index, values)
        if taken is None:
            return None
        index = taken
    return index


def _option(
    options: Sequence[Option], args: Sequence[str], index: int, values: dict[str, object]
) -> int | None:
    """Read the option at `args[index]` into `values`; the index after it, or None."""
    word = args[index]
    flag, attached, value = word.partition("=") if word.startswith("--") else (word, "", "")
    option = next((option for option in options if flag in option.flags), None)
    if option is None or option.dest in values:
        return None
    if option.kind == table.FLAG:
        if attached:
            return None
        values[option.dest] = True
        return index + 1
    if not attached:
        index += 1
        if index >= len(args) or args[index].startswith("-"):
            return None  # typer decides whether a dash word is a value here
        value = args[index]
    converted = convert(option.kind, value, option.choices)
    if converted is None:
        return None
    values[option.dest] = converted
    return index + 1


def _command_values(command: Command, args: Sequence[str]) -> dict[str, object] | None:
    options = [param for param in command.params if isinstance(param, table.Option)]
    values: dict[str, object] = {}
    positional: list[str] = []
    index = 0
    while index < len(args):
        word = args[index]
        if word == "--":
            positional += args[index + 1 :]
            break
        if word.startswith("-"):
            taken = _option(options, args, index, values)
            if taken is None:
                return None
            index = taken
            continue
        if command.trailing:
            return None  # `run CMD` without `--`: typer sorts out whose words these are
        positional.append(word)
        index += 1
    arguments = [param for param in command.params if isinstance(param, table.Argument)]
    given = _arguments(arguments, positional)
    if given is None:
        return None
    values.update(given)
    for param in options:
        if param.dest not in values:
            if param.required:
                return None
            values[param.dest] = param.default
    return {param.dest: values[param.dest] for param in command.params}


def _arguments(arguments: Sequence[Argument], words: list[str]) -> dict[str, object] | None:
    values: dict[str, object] = {}
    for argument in arguments:
        if argument.kind == table.WORDS:
            values[argument.dest] = list(words)
            words = []
        elif words:
            converted = convert(argument.kind, words.pop(0), ())
            if converted is None:
                return None
            values[argument.dest] = converted
        elif argument.required:
            return None
        else:
            values[argument.dest] = argument.default
    return None if words else values


def convert(kind: str, text: str, choices: tuple[str, ...]) -> object | None:
    """The value of `text` for a parameter of `kind`, or None when typer must judge it.

    Only canonical spellings pass (`8000`, not `08000`, `+8000` or `8_000`): whatever passes
    here, click converts to the same value.
    """
    if kind == table.TEXT:
        return text
    if kind == table.CHOICE:
        return text if text in choices else None
    if not (text.isascii() and text.isdigit()) or (text.startswith("0") and text != "0"):
        return None
    if len(text) > 20:
        return None  # no port, pid or count is this long; int() refuses 4,300 digits outright
    number = int(text)
    if kind == table.PORT:
        return number if 1 <= number <= table.MAX_PORT else None
    if kind == table.PID:
        return number if 1 <= number <= table.MAX_PID else None
    return number
