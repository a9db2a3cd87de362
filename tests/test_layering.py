"""The layering the README states holds: a lower layer never imports a higher one, no import cycles,
no module over 400 lines.

Imports are read with `ast`, not by importing: module-level and function-level imports both count,
and so do imports under `if TYPE_CHECKING:` (a type-only upward import is still a dependency a reader
has to follow). Cycles are looked for among module-level imports only (a function-level import is the
usual way to break an import-time cycle, and does not make one).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "labstream"
MAX_LINES = 400

# Lowest first. A package that appears later must be added here: the test fails on one it cannot place.
LAYERS: dict[str, int] = {
    "core": 1,
    "stream": 2,
    "objects": 2,
    "lake": 2,
    "catalog": 2,
    "compute": 2,
    "layouts": 2,
    "ingest": 3,
    "runtime": 3,
    "phenomics": 4,
    "genomics": 4,
    "cohort": 4,
    "pipelines": 5,
    "governance": 6,
    "ops": 6,
    "models": 6,
    "sites": 6,
    "cli": 7,
    "api": 7,
    "instruments": 7,
    "deploy": 7,
    "testing": 7,
    "demo": 7,
}
# Top-level modules other than labstream/__init__.py (which re-exports core names: layer 1).
TOP_LEVEL_MODULES = {"labstream.demo": 7, "labstream.__main__": 7}

# Known upward imports, each named with why; the test fails when one no longer occurs, so it only shrinks.
PENDING: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((SRC / PACKAGE).rglob("*.py"))}


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path, known: set[str]) -> list[tuple[str, bool, int]]:
    """(imported project module, at module level?, line) for each import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    top_level = set()
    for node in tree.body:
        top_level.add(id(node))
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` and guarded imports sit at module level too
            top_level.update(id(n) for n in ast.walk(node))
        if isinstance(node, ast.Try):
            top_level.update(id(n) for n in ast.walk(node))
    out: list[tuple[str, bool, int]] = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node)
            # `from pkg import mod` imports the submodule when there is one
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for t in targets:
            if t == PACKAGE or t.startswith(PACKAGE + "."):
                out.append((_known_prefix(t, known), id(node) in top_level, node.lineno))
    return out


def _known_prefix(name: str, known: set[str]) -> str:
    while name not in known and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return 1  # labstream/__init__: re-exports of core only (checked below like any module)
    if module in TOP_LEVEL_MODULES:
        return TOP_LEVEL_MODULES[module]
    sub = parts[1]
    if sub not in LAYERS:
        raise AssertionError(
            f"{module}: package {sub!r} has no layer; add it to LAYERS in tests/test_layering.py"
        )
    return LAYERS[sub]


def _graph() -> dict[str, list[tuple[str, bool, int]]]:
    mods = _modules()
    known = set(mods)
    return {m: _imports(m, p, known) for m, p in mods.items()}


def test_every_package_has_a_layer() -> None:
    for module in _modules():
        _layer(module)


def test_no_upward_imports() -> None:
    bad = []
    for module, imports in _graph().items():
        for target, _, line in imports:
            if target == PACKAGE:
                continue
            if _layer(target) > _layer(module) and (module, target) not in PENDING:
                here, there = _layer(module), _layer(target)
                bad.append(f"{module}:{line} (layer {here}) imports {target} (layer {there})")
    assert not bad, "upward imports:\n" + "\n".join(sorted(set(bad)))


def test_pending_entries_are_still_needed() -> None:
    """A PENDING pair that no longer occurs is removed, so the list only shrinks."""
    seen = {(m, t) for m, imports in _graph().items() for t, _, _ in imports}
    stale = sorted(PENDING - seen)
    assert not stale, f"remove from PENDING (no longer imported): {stale}"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as one cycle path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges.get(v, ()):
                comps.append(_path(sorted(comp), edges))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return comps


def _path(comp: list[str], edges: dict[str, set[str]]) -> list[str]:
    """One cycle through the component's first module, for the message."""
    members = set(comp)
    start = comp[0]
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(edges.get(v, set()) & members):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [*reversed(path), start]
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return comp  # pragma: no cover


def test_no_import_cycles() -> None:
    edges: dict[str, set[str]] = {}
    for module, imports in _graph().items():
        for target, top, _ in imports:
            if top and target != module and target != PACKAGE and not module.startswith(target + "."):
                edges.setdefault(module, set()).add(target)
    cycles = _cycles(edges)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_module_over_400_lines() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in (SRC / PACKAGE).rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them by job): {long}"
