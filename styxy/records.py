"""Frozen records for the command line's hot path: what `@dataclass(frozen=True)` gives a
record, without its price at start-up.

`import dataclasses` imports `inspect` (and with it ast, dis and tokenize: about 5 ms), and
every frozen dataclass compiles six methods when its module is imported (about 0.5 ms a
class, measured). `styxy allocate` loads some twenty records; as dataclasses they cost more
than all the rest of its work together (docs/PERFORMANCE.md). A `record` class keeps the
dataclass's shape and meaning: its fields are its annotations in order, with the class
attribute of the same name as the default; instances are immutable, equal and hashed by
their fields' values, shown as `Name(field=value, ...)`; `replace` makes a changed copy.
mypy sees `record` as a frozen dataclass (PEP 681), so every call is checked as before.

Records that the hot path never loads stay dataclasses.

The same price explains the `TYPE_CHECKING = False` line of the modules the hot path loads:
`import typing` costs about 3 ms, and these modules need it only for annotations, which
`from __future__ import annotations` leaves unevaluated. mypy reads any name `TYPE_CHECKING`
as true, so the imports under it are checked as usual and never run;
`tests/cli/test_cli_import_time.py` fails when typing comes back on the hot path.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see above)
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any, TypeVar

    from typing_extensions import dataclass_transform

    C = TypeVar("C", bound=type)
    R = TypeVar("R")
else:

    def dataclass_transform(**_: object) -> object:
        return lambda function: function


class FrozenRecordError(AttributeError):
    """An assignment to a field of a record (as dataclasses' FrozenInstanceError)."""


@dataclass_transform(frozen_default=True)
def record(cls: C) -> C:
    """Make `cls` a frozen record of its annotated fields."""
    names = tuple(
        name
        # The class's own annotations; `inspect.get_annotations` would import inspect.
        for name, annotation in cls.__dict__.get("__annotations__", {}).items()  # noqa: RUF063
        if not str(annotation).startswith(("ClassVar", "typing.ClassVar"))
    )
    defaults = {name: cls.__dict__[name] for name in names if name in cls.__dict__}
    required = names[: len(names) - len(defaults)]
    if any(name in defaults for name in required):
        raise TypeError(f"{cls.__name__}: a field without a default follows one with a default")

    count = len(names)
    known = frozenset(names)

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) == count and not kwargs:  # the common call: every field, in order
            object.__setattr__(self, "__dict__", dict(zip(names, args, strict=True)))
            return
        if len(args) > count:
            raise TypeError(f"{cls.__name__}() takes {count} arguments, {len(args)} given")
        values = dict(defaults)
        values.update(zip(names, args, strict=False))
        if kwargs:
            if not known.issuperset(kwargs) or (
                args and not kwargs.keys().isdisjoint(names[: len(args)])
            ):
                raise TypeError(
                    f"{cls.__name__}() got unexpected or repeated arguments "
                    f"{sorted(set(kwargs) - known.difference(names[: len(args)]))}"
                )
            values.update(kwargs)
        if len(values) != count:
            missing = [name for name in names if name not in values]
            raise TypeError(f"{cls.__name__}() is missing the arguments {missing}")
        # In field order, however the call named them: a record's `__dict__` is its fields in
        # order (`as_dict` and a lease's JSON copy it as it is).
        object.__setattr__(self, "__dict__", {name: values[name] for name in names})

    def fields_of(self: Any) -> tuple[Any, ...]:
        data = self.__dict__
        return tuple(data[name] for name in names)

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return bool(fields_of(self) == fields_of(other))

    def __hash__(self: Any) -> int:
        return hash(fields_of(self))

    def __repr__(self: Any) -> str:
        shown = ", ".join(
            f"{name}={value!r}" for name, value in zip(names, fields_of(self), strict=True)
        )
        return f"{cls.__qualname__}({shown})"

    def __setattr__(self: Any, name: str, value: object) -> None:
        raise FrozenRecordError(f"cannot assign to field {name!r} of a {cls.__name__}")

    def __delattr__(self: Any, name: str) -> None:
        raise FrozenRecordError(f"cannot delete field {name!r} of a {cls.__name__}")

    for method in (__init__, __eq__, __hash__, __repr__, __setattr__, __delattr__):
        method.__qualname__ = f"{cls.__qualname__}.{method.__name__}"
        setattr(cls, method.__name__, method)
    cls.__record_fields__ = names  # type: ignore[attr-defined]
    return cls


def fields(instance: object) -> tuple[str, ...]:
    """The field names of a record (or of a record class), in order."""
    owner = instance if isinstance(instance, type) else instance.__class__
    names: tuple[str, ...] = owner.__record_fields__  # type: ignore[attr-defined]
    return names


def replace(instance: R, /, **changes: Any) -> R:
    """A copy of the record `instance` with some fields changed (as `dataclasses.replace`,
    which it hands a dataclass to, so one `replace` serves both kinds of record)."""
    if not hasattr(instance.__class__, "__record_fields__"):
        import dataclasses

        return dataclasses.replace(instance, **changes)  # type: ignore[type-var]
    data = instance.__dict__
    unknown = set(changes).difference(fields(instance))
    if unknown:
        raise TypeError(f"{instance.__class__.__name__} has no fields {sorted(unknown)}")
    return instance.__class__(**{**{name: data[name] for name in fields(instance)}, **changes})


def as_dict(instance: object) -> dict[str, Any]:
    """The fields of a record and their values (records inside stay records)."""
    fields(instance)  # a record, or AttributeError as before
    return dict(instance.__dict__)


# A builder per record class, compiled on its first `many` (a few dozen microseconds, paid
# only by a command that builds records by the thousand; see `many`).
_BUILDERS: dict[type, Any] = {}


def many(cls: type[R], rows: Iterable[Sequence[Any]]) -> list[R]:
    """`[cls(*row) for row in rows]` at twice its speed: 10,000 leases are read, listed and
    shown on every command at the supported size (SPEC section 18), and a call of the
    general `__init__` per record was a tenth of `styxy list`'s time there.

    Each row holds every field in order; a row of another length is a ValueError.
    """
    build = _BUILDERS.get(cls)
    if build is None:
        names: tuple[str, ...] = cls.__record_fields__  # type: ignore[attr-defined]
        # Field names are identifiers (they are annotations), so the source is well formed.
        arguments = "".join(f"{name}, " for name in names)
        values = ", ".join(f"{name!r}: {name}" for name in names)
        source = (
            f"def build(rows):\n"
            f"    out = []\n"
            f"    for ({arguments}) in rows:\n"
            f"        record = new(cls)\n"
            f"        set_(record, '__dict__', {{{values}}})\n"
            f"        out.append(record)\n"
            f"    return out\n"
        )
        scope: dict[str, Any] = {"new": object.__new__, "set_": object.__setattr__, "cls": cls}
        exec(source, scope)
        build = _BUILDERS[cls] = scope["build"]
    built: list[R] = build(rows)
    return built
