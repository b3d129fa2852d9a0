"""Message templates of inbound webhooks (`{{$trigger.body.ref}}`), rendered by Jinja2's
sandboxed environment: attribute access only to plain data, no Python evaluation, bounded output."""

from __future__ import annotations

import re
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_OUTPUT_CHARS = 20_000
_TRIGGER = re.compile(r"\$trigger\b")

_env = ImmutableSandboxedEnvironment(undefined=ChainableUndefined, autoescape=False)


class TemplateInvalid(ValueError):
    pass


def _source(template: str) -> str:
    return _TRIGGER.sub("trigger", template)


def check(template: str) -> None:
    """Raises TemplateInvalid (with the parser's message) when the template does not parse."""
    try:
        _env.parse(_source(template))
    except TemplateSyntaxError as exc:
        raise TemplateInvalid(f"line {exc.lineno}: {exc.message}") from None


def render(template: str, trigger: dict[str, Any]) -> str:
    """The template with `$trigger` (and `trigger`) bound; missing paths render empty."""
    text = _env.from_string(_source(template)).render(trigger=trigger)
    return text[:MAX_OUTPUT_CHARS]
