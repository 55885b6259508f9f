"""The layers the folder listing shows, kept by a walk over every import in the package.

From the bottom: the shared words; the document and the system's view (siblings); the store;
the engine; the one door, `styxy.api`; the front ends. A module may import its own room and
the layers below it. Front ends import `styxy.api` and the shared words only, and never each
other, except that the command line starts the others (`styxy mcp`, `styxy serve`,
`styxy env`, `styxy proxy`). The engine works on the state a transaction loaded and never reaches the
store's files. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "styxy"

WORDS = {
    "errors", "vocabulary", "names", "notes", "output", "records", "resources", "paths", "refusals",
    "__init__",
}
RANK = {"words": 0, "document": 1, "system": 1, "store": 2, "engine": 3, "api": 4}
FRONT_ENDS = {"cli", "agents", "server", "project", "proxy"}
# What the engine may take from the store: the records and the loaded state it changes.
ENGINE_FROM_STORE = {"styxy.store.leases", "styxy.store.transaction"}


def room(module: str) -> str:
    """`styxy.store.cache` -> `store`; `styxy.errors` -> `words`; `styxy` -> `words`."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in WORDS:
        return "words"
    if parts[1] == "__main__":
        return "main"
    return parts[1]


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(module: str, path: Path) -> set[str]:
    """Every styxy module this one imports, at the top, in a function or for type checking."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    known = modules()
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("styxy"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            if not base.startswith("styxy"):
                continue
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in known else base)
    found.discard(module)
    return found


def allowed(importer: str, imported: str) -> str | None:
    """None when the import keeps the layers; else why it does not."""
    a, b = room(importer), room(imported)
    if a == b or b == "words":
        return None
    if a == "main":
        return None if b == "cli" else "__main__ starts the command line only"
    if a in FRONT_ENDS:
        if b == "api":
            return None
        if a == "cli" and b in FRONT_ENDS:
            return None
        if b in FRONT_ENDS:
            return f"front end {a} imports front end {b}"
        return f"front end {a} reaches below styxy.api into {b}"
    if b in FRONT_ENDS or b == "main":
        return f"{a} imports the front end {b}"
    if a == "engine" and b == "store" and imported not in ENGINE_FROM_STORE:
        return "the engine never reaches the store's files"
    if RANK[b] >= RANK[a]:
        return f"{a} (layer {RANK[a]}) imports {b} (layer {RANK[b]})"
    return None


def test_every_import_keeps_the_layers() -> None:
    broken = [
        f"{importer} -> {imported}: {why}"
        for importer, path in modules().items()
        for imported in sorted(imports(importer, path))
        if (why := allowed(importer, imported)) is not None
    ]
    assert broken == []


def test_no_module_sits_outside_a_layer() -> None:
    rooms = {room(m) for m in modules()}
    assert rooms <= {"words", "main", *RANK, *FRONT_ENDS}


@pytest.mark.parametrize(
    ("importer", "imported", "why"),
    [
        ("styxy.store.cache", "styxy.engine.placement", "store (layer 2) imports engine (layer 3)"),
        ("styxy.document.parse", "styxy.system.ports", "document (layer 1) imports system (layer 1)"),
        ("styxy.agents.mcp", "styxy.server.app", "front end agents imports front end server"),
        ("styxy.server.routes", "styxy.store.leases", "front end server reaches below styxy.api into store"),
        ("styxy.engine.allocation", "styxy.store.atomic", "the engine never reaches the store's files"),
        ("styxy.errors", "styxy.api", "words (layer 0) imports api (layer 4)"),
    ],
)
def test_the_rule_refuses_an_upward_import(importer: str, imported: str, why: str) -> None:
    assert allowed(importer, imported) == why


def test_no_circle_between_modules() -> None:
    graph = {m: imports(m, p) for m, p in modules().items()}
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        seen[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            # A package's __init__ importing its own submodules is how packages are built.
            if nxt.startswith(node + "."):
                continue
            if seen.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in seen and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        seen[node] = 2
        return None

    circles = [c for m in sorted(graph) if m not in seen and (c := visit(m)) is not None]
    assert circles == []
