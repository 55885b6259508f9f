"""Read the front matter: YAML with line numbers, strict keys, checked values.

Every problem becomes a diagnostic on the line of the key or value at fault; nothing stops at
the first one, so `styxy validate` can list them all.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field
from types import MappingProxyType

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from styxy import refusals
from styxy.document import schema
from styxy.document.model import AutoAllocation, Rule, RunFlag, Settings
from styxy.document.names import NAME_RULE, is_service_type
from styxy.document.yamlnodes import NumberTooLongError, Tree, is_null, key_text
from styxy.errors import Diagnostic


@dataclass(frozen=True)
class FrontMatter:
    settings: Settings
    diagnostics: tuple[Diagnostic, ...]
    # 1-based lines of the detect keys, to warn about types that have no row.
    detect_lines: dict[str, int] = field(default_factory=dict)
    # 1-based lines of each `aliases` row key and of each alias, for the checks that need
    # the table (the row exists; an alias that is also a row's name).
    alias_rows: dict[str, int] = field(default_factory=dict)
    alias_lines: dict[str, int] = field(default_factory=dict)


def read(text: str, path: str, first_line: int) -> FrontMatter:
    """Settings from the YAML `text` whose first line is line `first_line` of the document."""
    reader = _Reader(path, first_line)
    try:
        tree = Tree(text)
    except yaml.YAMLError as exc:
        reader.yaml_error(exc)
        return FrontMatter(Settings(), tuple(reader.diagnostics))
    except RecursionError:
        # PyYAML composes recursively; a hand-broken `[[[[...` must not crash `validate`.
        reader.error(first_line, "the front matter nests too deeply to read")
        return FrontMatter(Settings(), tuple(reader.diagnostics))
    try:
        settings = reader.top(tree)
    except yaml.YAMLError as exc:
        # A tag the safe loader refuses (`!!python/object`) surfaces only when a value is built.
        reader.yaml_error(exc)
        settings = Settings()
    finally:
        tree.close()
    return FrontMatter(
        settings,
        tuple(reader.diagnostics),
        reader.detect_lines,
        reader.alias_rows,
        reader.alias_lines,
    )


class _Reader:
    def __init__(self, path: str, first_line: int) -> None:
        self.path = path
        self.first_line = first_line
        self.diagnostics: list[Diagnostic] = []
        self.detect_lines: dict[str, int] = {}
        self.alias_rows: dict[str, int] = {}
        self.alias_lines: dict[str, int] = {}

    # -- reporting --------------------------------------------------------------------------

    def line(self, node: Node) -> int:
        return int(node.start_mark.line) + self.first_line

    def error(self, line: int, message: str, *, warning: bool = False) -> None:
        self.diagnostics.append(Diagnostic(self.path, line, message, warning=warning))

    def yaml_error(self, exc: yaml.YAMLError) -> None:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = int(mark.line) + self.first_line if mark is not None else self.first_line
        if isinstance(exc, NumberTooLongError):
            self.error(line, "the front matter holds a number too long to read")
            return
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        self.error(line, f"the front matter is not valid YAML: {problem}")

    # -- structure --------------------------------------------------------------------------

    def pairs(self, tree: Tree, node: Node, where: str) -> list[tuple[str, Node, Node]]:
        """The entries of a mapping; duplicate and non-text keys are reported and skipped."""
        if is_null(node):
            return []
        if not isinstance(node, MappingNode):
            self.error(self.line(node), f"{where} must be a mapping of keys to values")
            return []
        seen: dict[str, int] = {}
        entries = []
        for key_node, value_node in node.value:
            key = key_text(key_node)
            if key is None:
                self.error(self.line(key_node), f"a key in {where} must be plain text")
                continue
            if key in seen:
                self.error(
                    self.line(key_node),
                    f"duplicate key {key!r} in {where} (first on line {seen[key]})",
                )
                continue
            seen[key] = self.line(key_node)
            entries.append((key, key_node, value_node))
        return entries

    def unknown(self, key: str, node: Node, where: str, known: tuple[str, ...]) -> None:
        guess = schema.nearest(key, known)
        hint = f"did you mean {guess!r}?" if guess else "expected one of " + ", ".join(known)
        if guess is None and where == "the front matter" and key in schema.AUTO_KEYS:
            hint = "it belongs under autoAllocation"
        self.error(self.line(node), f"unknown key {key!r} in {where}; {hint}")

    def scalar(self, tree: Tree, node: Node, name: str, kind: schema.Kind) -> object | None:
        """The value of a setting, or None after reporting why it is unusable."""
        value = tree.value(node) if isinstance(node, ScalarNode) else None
        if isinstance(node, ScalarNode) and schema.value_ok(kind, value):
            return value
        self.error(self.line(node), f"{name} must {schema.demand(kind)}, not {_shown(node, value)}")
        return None

    # -- sections ---------------------------------------------------------------------------

    def top(self, tree: Tree) -> Settings:
        root = tree.root
        if root is None or is_null(root):
            self.error(self.first_line - 1, _NO_VERSION, warning=True)
            return Settings()
        entries = self.pairs(tree, root, "the front matter")
        found = {key: (key_node, value_node) for key, key_node, value_node in entries}
        for key, key_node, _ in entries:
            if key not in schema.TOP_KEYS:
                self.unknown(key, key_node, "the front matter", schema.TOP_KEYS)
        if not isinstance(root, MappingNode):
            return Settings()
        self.version(tree, found.get("styxy"))
        auto = self.auto(tree, found.get("autoAllocation"))
        rules = self.rules(tree, found.get("autoAllocationRules"))
        detect = self.detect(tree, found.get("detect"))
        aliases = self.aliases(tree, found.get("aliases"))
        run_flags = self.run_flags(tree, found.get("runFlags"))
        grace = Settings().lease_grace_seconds
        if "leaseGraceSeconds" in found:
            value = self.scalar(tree, found["leaseGraceSeconds"][1], "leaseGraceSeconds", "seconds")
            grace = value if isinstance(value, int) else grace
        return Settings(
            auto,
            rules,
            MappingProxyType(detect),
            grace,
            MappingProxyType(aliases),
            run_flags=run_flags,
        )

    def version(self, tree: Tree, entry: tuple[Node, Node] | None) -> None:
        if entry is None:
            self.error(self.first_line - 1, _NO_VERSION, warning=True)
            return
        node = entry[1]
        value = tree.value(node) if isinstance(node, ScalarNode) else None
        if value != schema.VERSION or isinstance(value, bool):
            self.error(
                self.line(node),
                f"unsupported document version {_shown(node, value)}; this styxy reads 'styxy: 1'",
            )

    def auto(self, tree: Tree, entry: tuple[Node, Node] | None) -> AutoAllocation:
        if entry is None:
            return AutoAllocation()
        fields: dict[str, object] = {}
        lines: dict[str, int] = {}
        for key, key_node, value_node in self.pairs(tree, entry[1], "autoAllocation"):
            kind = schema.AUTO_KINDS.get(key)
            if kind is None:
                self.unknown(key, key_node, "autoAllocation", schema.AUTO_KEYS)
                continue
            value = self.scalar(tree, value_node, f"autoAllocation.{key}", kind)
            if value is not None:
                fields[_ATTRS[key]] = value
                lines[key] = self.line(value_node)
        auto = AutoAllocation(**fields)  # type: ignore[arg-type]
        if auto.min_port_number >= auto.max_port_number:
            line = lines.get("minPortNumber", lines.get("maxPortNumber", self.line(entry[0])))
            self.error(
                line,
                f"autoAllocation.minPortNumber ({auto.min_port_number}) must be less than "
                f"maxPortNumber ({auto.max_port_number})",
            )
            return AutoAllocation()
        return auto

    def rules(self, tree: Tree, entry: tuple[Node, Node] | None) -> tuple[Rule, ...]:
        if entry is None:
            return ()
        rules = []
        for pattern, key_node, value_node in self.pairs(tree, entry[1], "autoAllocationRules"):
            rule = self.rule(tree, pattern, key_node, value_node)
            if rule is not None:
                rules.append(rule)
        return tuple(rules)

    def rule(self, tree: Tree, pattern: str, key_node: Node, value_node: Node) -> Rule | None:
        if not pattern.strip():
            self.error(self.line(key_node), "a rule in autoAllocationRules needs a pattern")
            return None
        where = f"rule {pattern!r}"
        fields: dict[str, object] = {}
        for key, sub_key, sub_value in self.pairs(tree, value_node, where):
            kind = schema.RULE_KINDS.get(key)
            if kind is None:
                self.unknown(key, sub_key, where, schema.RULE_KEYS)
                continue
            value = self.scalar(tree, sub_value, f"{key} of {where}", kind)
            if value is not None:
                fields[_ATTRS[key]] = value
        rule = Rule(pattern, line=self.line(key_node), **fields)  # type: ignore[arg-type]
        if rule.preferred_range_start is not None and rule.placement in ("after", "before"):
            self.error(
                self.line(key_node),
                f"{where} gives preferredRangeStart, which only placement smart uses",
                warning=True,
            )
        return rule

    def detect(self, tree: Tree, entry: tuple[Node, Node] | None) -> dict[str, tuple[str, ...]]:
        if entry is None:
            return {}
        detect: dict[str, tuple[str, ...]] = {}
        total = 0
        for name, key_node, value_node in self.pairs(tree, entry[1], "detect"):
            if not is_service_type(name):
                self.error(
                    self.line(key_node), f"invalid service type {name!r} in detect: {NAME_RULE}"
                )
                continue
            globs = self.globs(tree, value_node, name)
            if globs is not None:
                detect[name] = globs
                self.detect_lines[name] = self.line(key_node)
                total += len(globs)
        if total > schema.MAX_GLOBS:
            self.error(
                self.line(entry[0]),
                f"detect holds {total} globs in all; at most {schema.MAX_GLOBS} (the "
                "interceptor matches each of them in every busy bind)",
            )
        return detect

    def globs(self, tree: Tree, node: Node, name: str) -> tuple[str, ...] | None:
        if is_null(node):
            return ()
        values = (
            [tree.value(item) for item in node.value] if isinstance(node, SequenceNode) else None
        )
        if values is None or not all(isinstance(v, str) and v for v in values):
            self.error(self.line(node), f"detect.{name} must be a list of command-line globs")
            return None
        assert isinstance(node, SequenceNode)
        if len(values) > schema.MAX_GLOBS_PER_TYPE:
            self.error(
                self.line(node),
                f"detect.{name} has {len(values)} globs; at most {schema.MAX_GLOBS_PER_TYPE} "
                "per service type",
            )
            return None
        fine = True
        for item, value in zip(node.value, values, strict=True):
            size = len(str(value).encode("utf-8", "surrogateescape"))
            problem = None
            if size > schema.MAX_GLOB_BYTES:
                problem = f"is {size} bytes long; at most {schema.MAX_GLOB_BYTES}"
            elif "\0" in str(value):
                problem = "holds a NUL character"
            if problem is not None:
                self.error(self.line(item), f"detect.{name} glob {_shown(item, value)} {problem}")
                fine = False
        return tuple(str(v) for v in values) if fine else None


    def aliases(self, tree: Tree, entry: tuple[Node, Node] | None) -> dict[str, tuple[str, ...]]:
        """Row -> its other names. Each alias is a valid name and appears once in the block;
        whether its row exists, and whether it is also a row's name, needs the table
        (`styxy.document.parse`)."""
        if entry is None:
            return {}
        found: dict[str, tuple[str, ...]] = {}
        for row, key_node, value_node in self.pairs(tree, entry[1], "aliases"):
            if not is_service_type(row):
                self.error(
                    self.line(key_node), f"invalid service type {row!r} in aliases: {NAME_RULE}"
                )
                continue
            names = self.alias_names(tree, value_node, row)
            if names is not None:
                found[row] = names
                self.alias_rows[row] = self.line(key_node)
        return found

    def alias_names(self, tree: Tree, node: Node, row: str) -> tuple[str, ...] | None:
        if is_null(node):
            return ()
        if not isinstance(node, SequenceNode):
            self.error(
                self.line(node),
                f"aliases.{row} must be a list of names, e.g. {row}: [other, names]",
            )
            return None
        if len(node.value) > schema.MAX_ALIASES_PER_ROW:
            self.error(
                self.line(node),
                f"aliases.{row} lists {len(node.value)} names; at most "
                f"{schema.MAX_ALIASES_PER_ROW} are allowed",
            )
            return None
        kept = []
        for item in node.value:
            line = self.line(item)
            value = tree.value(item) if isinstance(item, ScalarNode) else None
            if not isinstance(item, ScalarNode):
                self.error(
                    line, f"an alias of {row!r} must be a name, not a {_shape(item)}: {NAME_RULE}"
                )
                continue
            if not isinstance(value, str) or not is_service_type(value):
                self.error(line, f"invalid alias {_shown(item, value)} of {row!r}: {NAME_RULE}")
                continue
            if value in self.alias_lines:
                self.error(
                    line,
                    f"alias {value!r} appears twice in aliases "
                    f"(first on line {self.alias_lines[value]})",
                )
                continue
            self.alias_lines[value] = line
            kept.append(value)
        return tuple(kept)


    def run_flags(self, tree: Tree, entry: tuple[Node, Node] | None) -> tuple[RunFlag, ...]:
        """Glob -> the arguments `styxy run` appends, one string split as a shell would."""
        if entry is None:
            return ()
        pairs = self.pairs(tree, entry[1], "runFlags")
        if len(pairs) > schema.MAX_RUN_FLAGS:
            self.error(
                self.line(entry[0]),
                f"runFlags has {len(pairs)} entries; at most {schema.MAX_RUN_FLAGS} are allowed",
            )
            return ()
        found = []
        for pattern, key_node, value_node in pairs:
            flag = self.run_flag(tree, pattern, key_node, value_node)
            if flag is not None:
                found.append(flag)
        return tuple(found)

    def run_flag(
        self, tree: Tree, pattern: str, key_node: Node, value_node: Node
    ) -> RunFlag | None:
        where = f"runFlags {pattern!r}"
        if not pattern.strip("*? ") or len(pattern) > schema.MAX_RUN_FLAG_TEXT:
            self.error(
                self.line(key_node),
                f"{where} must be a glob over a command line of at most "
                f"{schema.MAX_RUN_FLAG_TEXT} characters, such as '*vite'",
            )
            return None
        value = tree.value(value_node) if isinstance(value_node, ScalarNode) else None
        if not isinstance(value, str) or not value.strip():
            self.error(
                self.line(value_node),
                f"{where} must give the arguments to append as one string, "
                'such as "--port {port}"',
            )
            return None
        problem = _run_flag_problem(value)
        if problem is not None:
            self.error(self.line(value_node), f"{where} {problem}")
            return None
        return RunFlag(pattern, tuple(shlex.split(value)), line=self.line(key_node))


def _run_flag_problem(value: str) -> str | None:
    """Why a runFlags value cannot be used, or None."""
    if len(value) > schema.MAX_RUN_FLAG_TEXT:
        return f"is longer than {schema.MAX_RUN_FLAG_TEXT} characters"
    if not value.replace("\n", " ").replace("\t", " ").isprintable():
        # A NUL cannot reach exec() at all, and other control characters in a command's
        # arguments are a hand slip, never a port flag.
        return "holds a control character; write the arguments as plain text"
    try:
        words = shlex.split(value)
    except ValueError as exc:
        return f"cannot be split into arguments ({str(exc).lower()})"
    placeholder = schema.RUN_FLAG_PLACEHOLDER
    if not any(placeholder in word for word in words):
        return f"must contain {placeholder}, where the leased port goes"
    rest = " ".join(words).replace(placeholder, "")
    if "{" in rest or "}" in rest:
        return f"may use {placeholder} and no other placeholder"
    return None


_NO_VERSION = "the front matter has no 'styxy: 1'; reading it as version 1"
_ATTRS = {
    **{s.path[1]: s.attr for s in schema.SETTINGS if len(s.path) == 2},
    "chunkSize": "chunk_size",
    "preferredRangeStart": "preferred_range_start",
}


def _shown(node: Node, value: object) -> str:
    """A value as a sentence quotes it, in YAML's words (`true`, `null`, `.nan`), cut short:
    Python's `True`/`None` are not what the person wrote, and repr() of an integer of
    thousands of digits is slow, long, and past 4,300 digits refused."""
    if not isinstance(node, ScalarNode):
        return "a " + _shape(node)
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # What was written (`0x1F`, `1_000`), as long as it is short enough to quote.
        text = node.value if len(node.value) <= _QUOTED else f"a number of {len(node.value)} characters"
        return text
    return refusals.shown(value)


_QUOTED = 40


def _shape(node: Node) -> str:
    return "mapping" if isinstance(node, MappingNode) else "list"
