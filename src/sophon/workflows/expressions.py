"""Expressions in workflow configs: `{{ … }}` evaluated by Jinja2's sandboxed environment
(never Python `eval`; no attribute access to Python internals). A string that is exactly one
`{{ … }}` keeps the expression's type; any other string with `{{ … }}` renders to text.

Roots: `$node.<id>.output`, `$vars`, `$trigger` (`$trigger.body`), `$input`, and inside a loop
`$item` and `$index`. They become plain Jinja names (`$node` → `_node`) before parsing."""

from __future__ import annotations

import functools
import json
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

ROOTS = ("node", "vars", "trigger", "input", "item", "index", "run", "secrets")
_ROOT = re.compile(r"\$(" + "|".join(ROOTS) + r")\b")
_WHOLE = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.S)
_ANY = re.compile(r"\{\{|\{%")
MAX_SIZE = 1_000_000  # characters or items a `*` or `**` may produce


class ExpressionError(Exception):
    def __init__(self, expression: str, message: str) -> None:
        super().__init__(f"{message} (in {expression!r})")
        self.expression = expression
        self.message = message


class _Environment(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`a.b` on JSON data means the key `b` first (so `$input.items` is not `dict.items`)."""
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "**":
            if isinstance(right, int | float) and abs(right) > 64:
                raise ValueError("exponent too large")
            return left**right
        if isinstance(left, str | list) or isinstance(right, str | list):
            count = right if isinstance(right, int) else left
            sized = left if isinstance(left, str | list) else right
            if isinstance(count, int) and len(sized) * count > MAX_SIZE:
                raise ValueError("result too large")
        return operator.mul(left, right)


def _environment() -> _Environment:
    env = _Environment(undefined=StrictUndefined, autoescape=False)
    env.filters["json"] = lambda value: json.dumps(value, ensure_ascii=False, default=str)
    env.filters["fromjson"] = json.loads
    env.globals.update(
        {
            "len": len,
            "str": str,
            "int": int,
            "float": float,
            "bool": bool,
            "min": min,
            "max": max,
            "sum": sum,
            "abs": abs,
            "round": round,
            "sorted": sorted,
            "keys": lambda value: list(value.keys()),
            "values": lambda value: list(value.values()),
            "contains": lambda haystack, needle: needle in haystack,
            "split": lambda text, sep=None: str(text).split(sep),
        }
    )
    return env


ENV = _environment()


def _names(text: str) -> str:
    return _ROOT.sub(lambda m: "_" + m.group(1), text)


@functools.lru_cache(maxsize=4096)
def _compiled_expression(source: str) -> Callable[..., Any]:
    return ENV.compile_expression(source, undefined_to_none=False)


@functools.lru_cache(maxsize=4096)
def _compiled_template(source: str) -> Any:
    return ENV.from_string(source)


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and _ANY.search(value) is not None


def check(text: str) -> None:
    """Raises ExpressionError if `text` (a string with `{{ … }}`) does not parse."""
    try:
        whole = _WHOLE.match(text)
        if whole is not None and "}}" not in whole.group(1):
            ENV.compile_expression(_names(whole.group(1)))
        else:
            ENV.parse(_names(text))
    except TemplateError as error:
        raise ExpressionError(text, error.message or "invalid expression") from None


def walk_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a JSON value with its path (`a.b[2]`), for validation."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            yield from walk_strings(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from walk_strings(inner, f"{path}[{index}]")


def _context(scope: Mapping[str, Any]) -> dict[str, Any]:
    return {"_" + key: value for key, value in scope.items()}


def evaluate(text: str, scope: Mapping[str, Any]) -> Any:
    """The value of one string: its native value when it is exactly one `{{ … }}`, else the
    rendered text; a string without `{{` is itself."""
    if not is_expression(text):
        return text
    try:
        whole = _WHOLE.match(text)
        if whole is not None and "}}" not in whole.group(1) and "{{" not in whole.group(1):
            compiled = _compiled_expression(_names(whole.group(1)))
            result = compiled(**_context(scope))
            if isinstance(result, StrictUndefined):
                str(result)  # raises the undefined error
            return result
        return _compiled_template(_names(text)).render(**_context(scope))
    except TemplateError as error:
        raise ExpressionError(text, error.message or "invalid expression") from None
    except (TypeError, ValueError, ArithmeticError, KeyError, IndexError) as error:
        raise ExpressionError(text, f"{type(error).__name__}: {error}") from None


def resolve(value: Any, scope: Mapping[str, Any]) -> Any:
    """`value` with every string in it evaluated (dicts and lists walked)."""
    if isinstance(value, str):
        return evaluate(value, scope)
    if isinstance(value, Mapping):
        return {key: resolve(inner, scope) for key, inner in value.items()}
    if isinstance(value, list):
        return [resolve(inner, scope) for inner in value]
    return value


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "none", "null")
    return bool(value)


def render_wrapped(text: str, scope: Mapping[str, Any], wrapper: Callable[[str], str]) -> str:
    """`text` rendered as a template with every inserted value passed through `wrapper` (the
    external-content wrapper for values that came from outside)."""
    env = ENV.overlay(finalize=lambda value: wrapper(str(value)))
    try:
        return env.from_string(_names(text)).render(**_context(scope))
    except TemplateError as error:
        raise ExpressionError(text, error.message or "invalid expression") from None
    except (TypeError, ValueError, ArithmeticError, KeyError, IndexError) as error:
        raise ExpressionError(text, f"{type(error).__name__}: {error}") from None
