"""Where other domains plug into a turn without the runtime knowing them: context sections
(memory, daily logs), work queued with a completed turn's answer (memory extraction) and work
before compaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from sophon.platform.db import Database
    from sophon.platform.vault import Vault
    from sophon.providers.connect import ProviderRuntime
    from sophon.settings import Settings


@dataclass(frozen=True)
class TurnInfo:
    tenant_id: str
    task_id: str
    session_id: str
    agent_id: str
    user_id: str | None
    query: str  # the message the turn answers
    attached: bool = True  # that message may have attachments (False: it has none)


@dataclass(frozen=True)
class Exchange:
    """Messages handed to hooks: (role, content, message id)."""

    messages: Sequence[tuple[str, str, str]]


ContextHook = Callable[[AsyncSession, TurnInfo], Awaitable[tuple[str, str] | None]]
"""Returns (section title, text) for the system prompt, or None."""
AnswerHook = Callable[[AsyncSession, TurnInfo], Awaitable[None]]
"""Adds to the transaction that stores a completed turn's answer (e.g. queues a job), so it is
stored exactly when the answer is; no reads, and a write only when it is due (this runs on every
turn: the turn's statement budget test counts it)."""


class TurnParts(Protocol):
    """The process parts an exchange hook may use (the turn's `TurnScope` is one)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def database(self) -> Database: ...
    @property
    def vault(self) -> Vault: ...
    @property
    def model_runtime(self) -> ProviderRuntime: ...


ExchangeHook = Callable[[TurnParts, TurnInfo, Exchange], Awaitable[None]]

context_hooks: list[ContextHook] = []
answer_hooks: list[AnswerHook] = []
before_compaction_hooks: list[ExchangeHook] = []
