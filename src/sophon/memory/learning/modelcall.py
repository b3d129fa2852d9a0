"""Asking the configured model for memory work (extraction, summaries). With no provider the
routing falls back to the offline `echo` model: that answer is no answer, and callers take
their deterministic path. Providers are planned inside a transaction; the model is asked
outside any (an answer can take seconds, and SQLite has a single writer). What an answer cost is
recorded as usage of the `memory` kind, in the transaction that stores what it produced."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.llm import ChatMessage, ChatRequest, ChatResponse
from sophon.platform.errors import DomainError
from sophon.platform.vault import Vault
from sophon.providers import routing, usage
from sophon.providers.connect import ProviderRuntime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """A model's answer to memory work, and who gave it (for its usage row)."""

    text: str
    provider: str
    response: ChatResponse

    def record(
        self,
        db: AsyncSession,
        *,
        agent_id: str | None,
        user_id: str | None,
        session_id: str | None = None,
    ) -> None:
        """Adds the call's tokens to `db` as memory usage of the agent."""
        usage.record(
            db,
            self.provider,
            self.response,
            agent_id=agent_id,
            user_id=user_id,
            session_id=session_id,
            task_id=None,
            kind=usage.MEMORY,
        )


async def candidates(vault: Vault, db: AsyncSession) -> list[routing.Candidate]:
    """The session tenant's providers to ask, in routing order."""
    return await routing.plan(db, vault, None)


async def ask(
    model_runtime: ProviderRuntime,
    planned: list[routing.Candidate],
    system: str,
    user: str,
    max_tokens: int = 1024,
    response_format: dict[str, Any] | None = None,
) -> Answer | None:
    """The model's answer, or None when only the echo model (or no provider) answered."""
    request = ChatRequest(
        model="",
        messages=[ChatMessage.system(system), ChatMessage.user(user)],
        temperature=0.0,
        max_tokens=max_tokens,
        response_format=response_format,
    )
    try:
        who, answer = await routing.complete_with(model_runtime, planned, request)
    except DomainError as error:  # every provider failed: the caller degrades, it does not fail
        log.warning("memory model call failed", extra={"error": error.message})
        return None
    if answer.model == routing.ECHO_MODEL:
        return None
    return Answer(answer.content, who.name, answer)


def parse_json(text: str) -> Any:
    """The first JSON value in a model's answer (models like to wrap it in prose or fences)."""
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise ValueError("no JSON in the answer")
    value, _ = json.JSONDecoder().raw_decode(text[start:])
    return value
