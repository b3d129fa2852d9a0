"""Every service function that changes state says how it is audited: `@audited(action)` with
the audit row written right there, or `@exempt(reason)`. A new mutation without either fails.

A function changes state when its body (or a helper of its module, or another service function
it calls) adds, deletes or updates rows, sets an attribute, queues an event or a job, or writes
an audit row. The list of functions is printed by the parametrisation, one test each."""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest

import sophon
from sophon.audit.marks import ACTIONS, EXEMPT

SRC = Path(sophon.__file__).parent
SESSION_METHODS = frozenset({"add", "add_all", "delete", "merge"})
SQL_WRITES = frozenset({"update", "delete", "insert"})
WRITE_CALLS = frozenset({"after_commit", "enqueue", "record"})


def _service_modules() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path.stem == "service" or path.stem.endswith("_service"):
            found.append(".".join(("sophon", *path.relative_to(SRC).with_suffix("").parts)))
    return found


SERVICE_MODULES = _service_modules()


@dataclass
class _Module:
    module: ModuleType
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # local name -> service module
    sql: set[str] = field(default_factory=set)  # local names of SQL write constructors

    @classmethod
    def of(cls, name: str) -> _Module:
        module = importlib.import_module(name)
        tree = ast.parse(inspect.getsource(module))
        parsed = cls(module)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                parsed.functions[node.name] = node
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    if target in SERVICE_MODULES:
                        parsed.aliases[alias.asname or alias.name] = target
                    if node.module == "sqlalchemy" and alias.name in SQL_WRITES:
                        parsed.sql.add(alias.asname or alias.name)
        return parsed


_modules: dict[str, _Module] = {}


def _module(name: str) -> _Module:
    if name not in _modules:
        _modules[name] = _Module.of(name)
    return _modules[name]


def _writes(module: str, function: str, seen: set[tuple[str, str]] | None = None) -> str | None:
    """What makes the function a state change (the first write found), or None."""
    seen = seen if seen is not None else set()
    if (module, function) in seen:
        return None
    seen.add((module, function))
    parsed = _module(module)
    node = parsed.functions.get(function)
    if node is None:
        return None
    for child in ast.walk(node):
        if isinstance(child, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = child.targets if isinstance(child, ast.Assign) else [child.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and child.value is not None:
                    return f"sets {ast.unparse(target)}"
        if not isinstance(child, ast.Call):
            continue
        called = child.func
        if isinstance(called, ast.Attribute):
            owner = ast.unparse(called.value)
            if owner == "db" and called.attr in SESSION_METHODS:
                return f"db.{called.attr}"
            if called.attr in WRITE_CALLS and owner in {"audit", "queue"}:
                return f"{owner}.{called.attr}"
            target = parsed.aliases.get(owner)
            if target is not None and _writes(target, called.attr, seen):
                return f"calls {owner}.{called.attr}"
        elif isinstance(called, ast.Name):
            if called.id in parsed.sql:
                return f"{called.id}(...)"
            if called.id in WRITE_CALLS and called.id != "record":
                return called.id
            if called.id in parsed.functions and _writes(module, called.id, seen):
                return f"calls {called.id}"
    return None


def _public_functions() -> Iterator[tuple[str, str]]:
    for module in SERVICE_MODULES:
        parsed = _module(module)
        for name in parsed.functions:
            if not name.startswith("_"):
                yield module, name


FUNCTIONS = sorted(_public_functions())


def _audit_rows(module: str, function: str) -> tuple[int, set[str], set[str]]:
    """In the function and the same-module functions it calls: how many `audit.record` calls,
    the string literals, and the literal heads of f-strings (`f"ops.{to}"` gives `ops.`)."""
    parsed = _module(module)
    seen = {function}
    todo = [function]
    records, literals, heads = 0, set(), set()
    while todo:
        for child in ast.walk(parsed.functions[todo.pop()]):
            if isinstance(child, ast.Constant) and isinstance(child.value, str):
                literals.add(child.value)
            elif isinstance(child, ast.JoinedStr) and isinstance(child.values[0], ast.Constant):
                heads.add(str(child.values[0].value))
            elif isinstance(child, ast.Call):
                if ast.unparse(child.func) == "audit.record":
                    records += 1
                name = child.func.id if isinstance(child.func, ast.Name) else None
                if name in parsed.functions and name not in seen:
                    seen.add(name)
                    todo.append(name)
    return records, literals, heads


@pytest.mark.parametrize(("module", "function"), FUNCTIONS, ids=[f"{m}.{f}" for m, f in FUNCTIONS])
def test_a_service_function_that_changes_state_audits_or_says_why(
    module: str, function: str
) -> None:
    implementation = getattr(_module(module).module, function)
    actions: tuple[str, ...] | None = getattr(implementation, ACTIONS, None)
    reason: str | None = getattr(implementation, EXEMPT, None)
    write = _writes(module, function)
    if write is None:
        assert (actions, reason) == (None, None), f"{function} changes nothing; drop its mark"
        return
    assert (actions is None) != (reason is None), (
        f"{module}.{function} changes state ({write}): mark it @audited(action) and write the "
        "audit row next to the change, or @exempt(reason)"
    )
    if actions is not None:
        records, literals, heads = _audit_rows(module, function)
        assert records, f"{function} is marked audited but writes no audit row"
        for action in actions:
            named = action in literals or any(action.startswith(h) for h in heads)
            assert named, f"{function} never names the action {action}"
    else:
        assert reason is not None
        assert reason.strip(), function


def test_the_walk_finds_the_service_modules_and_their_mutations() -> None:
    assert "sophon.tasks.service" in SERVICE_MODULES
    assert "sophon.identity.auth.service" in SERVICE_MODULES
    assert _writes("sophon.tasks.service", "cancel") is not None
    assert _writes("sophon.tasks.service", "get") is None
