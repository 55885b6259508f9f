"""The document room: read, check and edit `PORT_MANAGEMENT.md` without reformatting it.

The names below load on first use (PEP 562): the hot path imports `styxy.document.model`,
which runs this file first, and must not pay for markdown-it, PyYAML and Jinja2.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Any

    from styxy.document.edit import add_range as add_range
    from styxy.document.edit import add_ranges as add_ranges
    from styxy.document.edit import append_audit as append_audit
    from styxy.document.edit import audit_line as audit_line
    from styxy.document.edit import remove_range as remove_range
    from styxy.document.edit import with_row as with_row
    from styxy.document.layout import Layout as Layout
    from styxy.document.layout import Parsed as Parsed
    from styxy.document.lines import decode_text as decode_text
    from styxy.document.names import check_service_type as check_service_type
    from styxy.document.parse import check as check
    from styxy.document.parse import check_rows as check_rows
    from styxy.document.parse import parse as parse
    from styxy.document.schema import SETTING_KEYS as SETTING_KEYS
    from styxy.document.settings import get_setting as get_setting
    from styxy.document.settings import set_rule as set_rule
    from styxy.document.settings import set_setting as set_setting
    from styxy.document.settings import settings_as_dict as settings_as_dict
    from styxy.document.settings import unset_rule as unset_rule

__all__ = [
    "SETTING_KEYS",
    "Layout",
    "Parsed",
    "add_range",
    "add_ranges",
    "append_audit",
    "audit_line",
    "check",
    "check_rows",
    "check_service_type",
    "decode_text",
    "get_setting",
    "parse",
    "remove_range",
    "set_rule",
    "set_setting",
    "settings_as_dict",
    "unset_rule",
    "with_row",
]
_HOMES = {
    "SETTING_KEYS": "schema",
    "Layout": "layout",
    "Parsed": "layout",
    "add_range": "edit",
    "add_ranges": "edit",
    "append_audit": "edit",
    "audit_line": "edit",
    "check": "parse",
    "check_rows": "parse",
    "check_service_type": "names",
    "decode_text": "lines",
    "get_setting": "settings",
    "parse": "parse",
    "remove_range": "edit",
    "set_rule": "settings",
    "set_setting": "settings",
    "settings_as_dict": "settings",
    "unset_rule": "settings",
    "with_row": "edit",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib  # here: the hot path never takes this branch, and importlib costs warnings

    module = importlib.import_module(f"{__name__}.{home}")
    # Bind every name of that module at once: importing the submodule `parse` has just set the
    # package attribute `parse` to the module itself, hiding the function of the same name.
    for other, where in _HOMES.items():
        if where == home:
            globals()[other] = getattr(module, other)  # later lookups skip this function
    return globals()[name]


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
