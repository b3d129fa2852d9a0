"""Shared pieces of the OpenAI adapter tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from sophon.llm import ChatMessage, ChatRequest, OpenAIProvider, StreamEvent, ToolSpec
from tests.llm.fakes import FakeServer, SleepRecorder

CHAT = "/v1/chat/completions"
SEARCH = ToolSpec(
    "memory.search",
    "Search memory",
    {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
)


def provider(fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder) -> OpenAIProvider:
    return OpenAIProvider(
        http, base_url=f"{fake.url}/v1", api_key="sk-test", name="primary", sleep=sleeps
    )


def hello(
    *,
    tools: list[ToolSpec] | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    stop: list[str] | None = None,
) -> ChatRequest:
    messages = [ChatMessage.system("Be brief."), ChatMessage.user("Hi")]
    return ChatRequest("gpt-test", messages, tools or [], temperature, max_tokens, stop or [])


async def collect(p: OpenAIProvider, request: ChatRequest) -> list[StreamEvent]:
    return [event async for event in p.stream(request)]


async def drain(stream: AsyncIterator[StreamEvent], into: list[StreamEvent]) -> None:
    async for event in stream:
        into.append(event)
