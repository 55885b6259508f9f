"""What every command shares: the way a result or a note reaches the terminal.

The options themselves are declared once, in `styxy.cli.table`.
"""

from __future__ import annotations

from styxy import output

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from styxy.api.records import Confirm


def emit(json: bool, value: Any, text: str | Callable[[], str]) -> None:
    """The result: one JSON object with `--json`, else the text (nothing when it is empty).

    Either may be a function that builds it: only the form asked for is built (10,000 leases
    cost 20 ms to render the form no one reads).
    """
    if json:
        output.as_json(value() if callable(value) else value)
        return
    shown = text() if callable(text) else text
    if shown:
        output.result(shown)


def notify(text: str) -> None:
    from styxy.vocabulary import Notice

    # A line whose wording the spec fixes is shown as it is; any other is a `styxy:` note.
    if isinstance(text, Notice):
        output.message(text)
    else:
        output.note(text)


def as_number(value: Any) -> Any:
    """The integer a word spells exactly (`3010`, not `03010` or `3e3`), else the word: what
    `styxy.refusals` checks, so a word that is not a number is refused in its own words."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().lstrip("-").isdigit():
        if len(value.strip()) > _MAX_DIGITS:
            # int() refuses past 4,300 digits; any number this long is out of every range,
            # and a stand-in of the same kind is refused in the same words (its size).
            return _HUGE
        number = int(value.strip())
        return number if str(number) == value.strip() else value
    return value


# Longer than any port or pid could be spelled; the stand-in is refused as "over 38 digits".
_MAX_DIGITS = 39
_HUGE = 10**40


def terminal_confirm() -> Confirm | None:
    """The prompt of confirmation mode when a person sits at stdin, else None (refuse)."""
    import sys

    if not sys.stdin.isatty():
        return None
    from styxy.cli import prompt

    return prompt.confirm
