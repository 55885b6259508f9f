"""The `styxy config` group: settings, rules, auto-allocated ranges and their undo."""

# No `from __future__ import annotations` here, on purpose: typer reads every command's
# annotations at start-up, and string annotations would cost an eval and a compile each.


import typer

from styxy.cli.common import (
    DocOption,
    JsonOption,
    complete_service_type,
    complete_setting,
    doc_of,
    emit,
    notify,
)

config_app = typer.Typer(no_args_is_help=True, help="Read and change settings and rules.")


@config_app.command("show")
def config_show(doc: str | None = DocOption, json: bool = JsonOption) -> None:
    """All settings."""
    from styxy.api import config
    from styxy.cli.render import settings_text

    settings = config.show(doc=doc_of(doc), notify=notify).to_json()
    emit(json, settings, settings_text(settings))


@config_app.command("get")
def config_get(
    key: str = typer.Argument(..., metavar="KEY", autocompletion=complete_setting),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """One setting, e.g. auto-allocation.placement."""
    from styxy.api import config
    from styxy.cli.render import value_text

    value = config.get(key, doc=doc_of(doc), notify=notify)
    emit(json, {"key": key, "value": value}, value_text(value))


# Negative numbers are values here (`lease-grace-seconds -5` must be refused for its meaning,
# not mistaken for an option), so unknown dash words pass through as arguments.
@config_app.command("set", context_settings={"ignore_unknown_options": True})
def config_set(
    key: str = typer.Argument(..., metavar="KEY", autocompletion=complete_setting),
    value: str = typer.Argument(..., metavar="VALUE"),
    chunk_size: int | None = typer.Option(None, "--chunk-size"),
    placement: str | None = typer.Option(None, "--placement"),
    preferred_range: int | None = typer.Option(None, "--preferred-range"),
    doc: str | None = DocOption,
    json: bool = JsonOption,
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
            doc=doc_of(doc),
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
    new = config.set_value(key, value, doc=doc_of(doc), notify=notify)
    emit(json, {"key": key, "value": new}, f"{key} = {value_text(new)}")


@config_app.command("unset")
def config_unset(
    key: str = typer.Argument(..., metavar="auto-allocation-rule"),
    pattern: str = typer.Argument(..., metavar="PATTERN"),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Remove a rule: auto-allocation-rule PATTERN."""
    from styxy.api import config
    from styxy.errors import UsageError

    if key != "auto-allocation-rule":
        raise UsageError("only `config unset auto-allocation-rule PATTERN` exists.")
    config.unset_rule(pattern, doc=doc_of(doc), notify=notify)
    emit(json, {"removed": pattern}, f"rule {pattern} removed")


@config_app.command("auto-allocation")
def config_auto_allocation(doc: str | None = DocOption, json: bool = JsonOption) -> None:
    """Settings, rules, auto-allocated ranges, recent audit lines."""
    from styxy.api import config
    from styxy.cli.render import auto_allocation_text

    info = config.auto_allocated(doc=doc_of(doc), notify=notify)
    emit(json, info.to_json(), auto_allocation_text(info))


@config_app.command("undo-auto")
def config_undo_auto(
    service_type: str | None = typer.Option(
        None, "-s", "--service-type", autocompletion=complete_service_type
    ),
    all_ranges: bool = typer.Option(False, "--all"),
    force: bool = typer.Option(False, "--force", help="Also end live leases in the range."),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Remove the newest auto-allocated range (or T's, or all)."""
    from styxy.api import config

    undo = config.undo_auto(
        service_type=service_type, all_ranges=all_ranges, force=force, doc=doc_of(doc), notify=notify
    )
    lines = [f"removed {t} {a}-{b}" for t, (a, b) in undo.removed]
    lines += [f"ended lease {x.lockId} on port {x.port}" for x in undo.ended]
    emit(json, undo.to_json(), "\n".join(lines))
