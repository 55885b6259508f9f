"""The `styxy config` group: settings, rules, auto-allocated ranges and their undo.

Plain functions: `styxy.cli.table` declares their options (see `styxy.cli.leases`).
"""

from __future__ import annotations

from styxy.cli.common import emit, notify


def show(doc: str | None, json: bool) -> None:
    """All settings."""
    from styxy.api import config
    from styxy.cli.render import settings_text

    settings = config.show(doc=doc, notify=notify).to_json()
    emit(json, settings, settings_text(settings))


def get(key: str, doc: str | None, json: bool) -> None:
    """One setting, e.g. auto-allocation.placement."""
    from styxy.api import config
    from styxy.cli.render import value_text

    value = config.get(key, doc=doc, notify=notify)
    emit(json, {"key": key, "value": value}, value_text(value))


def set_(
    key: str,
    value: str,
    chunk_size: int | None,
    placement: str | None,
    preferred_range: int | None,
    doc: str | None,
    json: bool,
) -> None:
    """Change a setting (KEY VALUE), or add a rule: auto-allocation-rule PATTERN [options]."""
    from styxy.api import config
    from styxy.cli.render import value_text
    from styxy.errors import UsageError

    if key == "auto-allocation-rule":
        config.set_rule(
            value,
            chunk_size=chunk_size,
            placement=placement,
            preferred_range_start=preferred_range,
            doc=doc,
            notify=notify,
        )
        emit(
            json,
            {
                "rule": value,
                "chunkSize": chunk_size,
                "placement": placement,
                "preferredRangeStart": preferred_range,
            },
            f"rule {value} set",
        )
        return
    if chunk_size is not None or placement is not None or preferred_range is not None:
        raise UsageError(
            "--chunk-size, --placement and --preferred-range go with `auto-allocation-rule PATTERN`."
        )
    new = config.set_value(key, value, doc=doc, notify=notify)
    emit(json, {"key": key, "value": new}, f"{key} = {value_text(new)}")


def unset(key: str, pattern: str, doc: str | None, json: bool) -> None:
    """Remove a rule: auto-allocation-rule PATTERN."""
    from styxy.api import config
    from styxy.errors import UsageError

    if key != "auto-allocation-rule":
        raise UsageError("only `config unset auto-allocation-rule PATTERN` exists.")
    config.unset_rule(pattern, doc=doc, notify=notify)
    emit(json, {"removed": pattern}, f"rule {pattern} removed")


def auto_allocation(doc: str | None, json: bool) -> None:
    """Settings, rules, auto-allocated ranges, recent audit lines."""
    from styxy.api import config
    from styxy.cli.render import auto_allocation_text

    info = config.auto_allocated(doc=doc, notify=notify)
    emit(json, info.to_json(), auto_allocation_text(info))


def undo_auto(
    service_type: str | None, all_ranges: bool, force: bool, doc: str | None, json: bool
) -> None:
    """Remove the newest auto-allocated range (or T's, or all)."""
    from styxy.api import config

    undo = config.undo_auto(
        service_type=service_type, all_ranges=all_ranges, force=force, doc=doc, notify=notify
    )
    lines = [f"removed {t} {a}-{b}" for t, (a, b) in undo.removed]
    lines += [f"ended lease {x.lockId} on port {x.port}" for x in undo.ended]
    emit(json, undo.to_json(), "\n".join(lines))
