"""Actions other domains gate behind an approval (e.g. `memory.forget`): a handler per action
name runs inside the deciding transaction when its approval is approved."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.approvals.models import Approval

ActionHandler = Callable[[AsyncSession, Approval], Awaitable[None]]

_handlers: dict[str, ActionHandler] = {}


def register(action: str, handler: ActionHandler) -> None:
    _handlers[action] = handler


def handler_for(action: str) -> ActionHandler | None:
    return _handlers.get(action)
