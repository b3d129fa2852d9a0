"""Declarations on service functions that change state: the audit actions each one writes, or
why it writes none (`tests/audit/test_mutations.py` holds every state change to one of them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

ACTIONS = "__audit_actions__"
EXEMPT = "__audit_exempt__"


def audited(*actions: str) -> Callable[[F], F]:
    """The function writes an audit row with one of `actions` next to its change."""

    def mark(function: F) -> F:
        setattr(function, ACTIONS, actions)
        return function

    return mark


def exempt(reason: str) -> Callable[[F], F]:
    """The function changes state but writes no audit row, for `reason`."""

    def mark(function: F) -> F:
        setattr(function, EXEMPT, reason)
        return function

    return mark
