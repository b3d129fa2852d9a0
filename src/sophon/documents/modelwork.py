"""Asking the tenant's model for document work. Providers are planned inside the request's
transaction, which is then ended so no database lock is held while the model answers (as the
task long-poll does). A tenant whose only model is the offline `echo` one is `offline`: summaries
and answers then fall back to extracts of the text (see `analysis`), and the work that needs a
model (structured extraction, comparison) is refused with 409."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.llm import ChatMessage, ChatRequest
from sophon.platform.errors import Conflict
from sophon.providers import routing
from sophon.runtime import external

if TYPE_CHECKING:
    from sophon.platform.vault import Vault
    from sophon.providers.connect import ProviderRuntime
    from sophon.settings import Settings

SOURCE = "Document"
CONTEXT_CHARS = 60_000  # document text per model call


@dataclass(frozen=True)
class Parts:
    vault: Vault
    model_runtime: ProviderRuntime
    settings: Settings


class NoModel(Conflict):
    default_message = (
        "This needs a model provider and the tenant has none; add one under /api/providers."
    )


EXTRACTIVE = "extractive"
"""The `model` of an answer made of the document's own sentences (no model provider)."""


@dataclass(frozen=True)
class Planned:
    candidates: list[routing.Candidate]

    @property
    def model(self) -> str:
        usable = [c for c in self.candidates if not c.problem]
        return usable[0].model if usable else routing.ECHO_MODEL

    @property
    def offline(self) -> bool:
        return self.model == routing.ECHO_MODEL


async def plan(parts: Parts, db: AsyncSession, *, required: bool = False) -> Planned:
    """The providers to ask; `required`: refuse (409) when only the offline model is there."""
    planned = Planned(await routing.plan(db, parts.vault, None))
    if required and planned.offline:
        raise NoModel()
    return planned


async def ask(
    parts: Parts,
    db: AsyncSession,
    planned: Planned,
    system: str,
    user: str,
    max_tokens: int = 1500,
    response_format: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """(answer, model). Ends `db`'s transaction first (reads after this start a new one)."""
    await db.commit()
    request = ChatRequest(
        model="",
        messages=[
            ChatMessage.system(f"{system}\n\n{external.RULE}"),
            ChatMessage.user(user),
        ],
        temperature=0.0,
        max_tokens=max_tokens,
        response_format=response_format,
    )
    candidate, answer = await routing.complete_with(
        parts.model_runtime, planned.candidates, request
    )
    if candidate.model == routing.ECHO_MODEL:
        raise NoModel()
    return answer.content or "", candidate.model


def wrapped(text: str, name: str) -> str:
    return external.wrap(text, f"{SOURCE}:{name}")


def cache_key(kind: str, sha256: str, model: str, options: Any) -> str:
    blob = json.dumps([kind, sha256, model, options], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def within(pieces: list[str], budget: int) -> str:
    """The pieces joined, or evenly spread ones (in order) when all would not fit."""
    joined = "\n\n".join(pieces)
    if len(joined) <= budget:
        return joined
    rng = random.Random(len(pieces))  # noqa: S311 - a spread of samples, not a secret
    order = list(range(len(pieces)))
    rng.shuffle(order)
    kept, used = set(), 0
    for i in order:
        if used + len(pieces[i]) > budget:
            continue
        kept.add(i)
        used += len(pieces[i]) + 2
    return "\n\n[…]\n\n".join(pieces[i] for i in sorted(kept)) or joined[:budget]


def parse_json(text: str) -> Any:
    """The first JSON value in an answer (models wrap JSON in prose or fences)."""
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        raise ValueError("no JSON in the answer")
    value, _ = json.JSONDecoder().raw_decode(text[min(starts) :])
    return value
