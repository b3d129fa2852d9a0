"""Asking the configured model for memory work (extraction, summaries). With no provider the
routing falls back to the offline `echo` model: that answer is no answer, and callers take
their deterministic path. Providers are planned inside a transaction; the model is asked
outside any (an answer can take seconds, and SQLite has a single writer)."""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.llm import ChatMessage, ChatRequest
from sophon.platform.errors import DomainError
from sophon.platform.vault import Vault
from sophon.providers import routing
from sophon.providers.connect import ProviderRuntime

log = logging.getLogger(__name__)


async def candidates(vault: Vault, db: AsyncSession) -> list[routing.Candidate]:
    """The session tenant's providers to ask, in routing order."""
    return await routing.plan(db, vault, None)


async def ask(
    model_runtime: ProviderRuntime,
    planned: list[routing.Candidate],
    system: str,
    user: str,
    max_tokens: int = 1024,
) -> str | None:
    """The model's answer, or None when only the echo model (or no provider) answered."""
    request = ChatRequest(
        model="",
        messages=[ChatMessage.system(system), ChatMessage.user(user)],
        temperature=0.0,
        max_tokens=max_tokens,
    )
    try:
        _, answer = await routing.complete_with(model_runtime, planned, request)
    except DomainError as error:  # every provider failed: the caller degrades, it does not fail
        log.warning("memory model call failed", extra={"error": error.message})
        return None
    if answer.model == routing.ECHO_MODEL:
        return None
    return answer.content


def parse_json(text: str) -> Any:
    """The first JSON value in a model's answer (models like to wrap it in prose or fences)."""
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise ValueError("no JSON in the answer")
    value, _ = json.JSONDecoder().raw_decode(text[start:])
    return value
