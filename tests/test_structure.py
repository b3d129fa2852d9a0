"""The shape of `src/sophon`, kept by tests: no import cycle longer than three modules (imports
under `TYPE_CHECKING` count: they are dependencies too), `platform/` importing no feature package,
no module over 500 lines, and a `tests/<package>/` for every package."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "sophon"
LONGEST_CYCLE = 3
MAX_LINES = 500
# what `platform/` may import besides itself: the package root (its version) and the settings
PLATFORM_MAY_IMPORT = {"sophon", "sophon.settings"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imported(name: str, path: Path) -> Iterator[str]:
    """Every dotted name `path` imports, relative imports resolved; both `from a import b` forms
    are yielded (`a` and `a.b`), since `b` may be a module or a name in `a`."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    """Module → the project modules it imports (a name inside a module maps to that module)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target in _imported(name, path):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that import each other in a loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            advanced = False
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    advanced = True
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    """Parsing every module takes seconds: once for the tests that read the graph."""
    return import_graph()


def test_no_import_cycle_is_longer_than_three_modules(graph: dict[str, set[str]]) -> None:
    long = [g for g in strongly_connected(graph) if len(g) > LONGEST_CYCLE]
    assert long == [], f"modules importing each other in a loop: {long}"


def test_platform_imports_no_feature_package(graph: dict[str, set[str]]) -> None:
    upward = sorted(
        (module, target)
        for module, targets in graph.items()
        if module.startswith("sophon.platform")
        for target in targets
        if not target.startswith("sophon.platform") and target not in PLATFORM_MAY_IMPORT
    )
    assert upward == [], f"platform/ must not depend on features: {upward}"


def test_no_module_is_longer_than_500_lines() -> None:
    long = {
        name: lines
        for name, path in _modules().items()
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
        and ".migrations.versions." not in name
    }
    assert long == {}, f"split these by responsibility: {long}"


def test_every_package_has_its_tests_folder() -> None:
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")} - {"migrations"}
    missing = sorted(p for p in packages if not (ROOT / "tests" / p).is_dir())
    assert missing == [], f"tests/ mirrors src/sophon/: add tests/<package>/ for {missing}"


def test_the_cycle_finder_finds_a_loop_and_nothing_else() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert strongly_connected(graph) == [["a", "b", "c"]]
