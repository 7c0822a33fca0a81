"""The package's runtime import graph: no cycle between subpackages, no import upward.

Every module is parsed (not imported): module-level and function-level imports count, imports
under `if TYPE_CHECKING:` do not (they never run). `python tests/test_import_graph.py` prints
the graph.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lightning_autotune"
FACADE = "lightning_autotune"  # the package's __init__: lazy names of every subpackage

# Lowest first. A unit may import units of lower layers only; units of one layer stay
# independent of each other. A new subpackage or top-level module gets a place here.
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(layer)
    for layer in (
        {"exceptions"},
        {"_metrics_by_name"},
        {"_validation", "_time", "_optimizers", "_trial_run", "_subset", "_lineage"},
        {"trial", "constraints", "profiling", "_wrapped", "transfer"},
        {"space"},
        {"metrics", "multiobjective"},
        {"storage"},
        {"samplers", "pruners"},
        {"progress", "registry", "knowledge"},
        {"study"},
        {"callbacks"},
        {"analysis", "testing"},
        {"objective", "_objective", "dashboard"},
        {"stages", "population"},
        {"_fit", "_tuner_support"},
        {"_tuner_settings"},
        {"_hypertuner"},
        {"cli"},
        {FACADE},
    )
)

# (importer, imported) pairs that break the order today, each with its owner; remove an entry
# when the import is gone.
KNOWN_VIOLATIONS: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Edge:
    """One runtime import of another unit of the package."""

    source: str
    target: str
    where: str


def _is_facade_name(name: str) -> bool:
    return not ((PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file())


def _unit(module: str) -> str | None:
    if module == FACADE:
        return FACADE
    parts = module.split(".")
    if parts[0] != "lightning_autotune" or len(parts) < 2:
        return None
    return parts[1]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        if node.module == "lightning_autotune":  # `from lightning_autotune import study`
            # The version string is defined in the facade itself; any other name of the facade
            # stands for the whole package (the facade imports everything on demand).
            return [
                FACADE if _is_facade_name(alias.name) else f"lightning_autotune.{alias.name}"
                for alias in node.names
                if alias.name != "__version__"
            ]
        return [node.module]
    return []


def _runtime_imports(tree: ast.AST) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                stack.extend(child.orelse)
                continue
            found += [(name, getattr(child, "lineno", 0)) for name in _imported(child)]
            stack.append(child)
    return found


def import_edges() -> list[Edge]:
    """Every runtime import from one unit (subpackage or top-level module) to another."""
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel == Path("__init__.py"):
            continue  # the package facade: lazy `importlib` lookups, no imports to check
        source = rel.parts[0].removesuffix(".py")
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for module, line in _runtime_imports(tree):
            target = _unit(module)
            if target is not None and target != source:
                edges.append(Edge(source, target, f"lightning_autotune/{rel.as_posix()}:{line}"))
    return edges


def _layer(unit: str) -> int | None:
    return next((i for i, layer in enumerate(LAYERS) if unit in layer), None)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def test_every_unit_has_a_layer() -> None:
    units = {e.source for e in import_edges()} | {e.target for e in import_edges()}
    missing = sorted(u for u in units if _layer(u) is None)
    assert not missing, f"give {missing} a place in LAYERS (tests/test_import_graph.py)"


def test_no_import_goes_upward_or_sideways() -> None:
    bad = [
        f"{e.source} -> {e.target} ({e.where})"
        for e in import_edges()
        if (e.source, e.target) not in KNOWN_VIOLATIONS
        and (_layer(e.target) or 0) >= (_layer(e.source) or 0)
    ]
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_no_cycle_between_units() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for e in import_edges():
        if (e.source, e.target) not in KNOWN_VIOLATIONS:
            graph[e.source].add(e.target)
    assert _cycles(graph) == []


def test_known_violations_still_exist() -> None:
    present = {(e.source, e.target) for e in import_edges()}
    stale = sorted(KNOWN_VIOLATIONS - present)
    assert not stale, f"remove {stale} from KNOWN_VIOLATIONS: those imports are gone"


def test_the_parser_sees_function_level_imports_and_skips_type_checking() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from lightning_autotune.study import Study\n"
        "def f():\n"
        "    from lightning_autotune.storage import get_storage\n"
        "    import lightning_autotune.trial\n"
        "    from lightning_autotune import samplers\n"
    )
    units = sorted({_unit(m) for m, _ in _runtime_imports(tree)} - {None})  # type: ignore[type-var]
    assert units == ["samplers", "storage", "trial"]
    facade = ast.parse("from lightning_autotune import __version__, fit, study\n")
    assert sorted(_unit(m) or "" for m, _ in _runtime_imports(facade)) == [FACADE, "study"]


def main() -> None:
    """Print the graph: each unit by layer, with the units it imports."""
    graph: dict[str, set[str]] = defaultdict(set)
    for e in import_edges():
        graph[e.source].add(e.target)
    for i, layer in enumerate(LAYERS):
        for unit in sorted(layer):
            if unit in graph or any(unit in targets for targets in graph.values()):
                print(f"{i:2d} {unit:15s} -> {', '.join(sorted(graph.get(unit, ()))) or '-'}")


if __name__ == "__main__":
    main()
    sys.exit(0)
