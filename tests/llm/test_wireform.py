"""Request bodies of a long session: the messages a later request shares with an earlier one are
sent exactly as a request of fresh messages would send them, whatever changed in between (the
offered tools, the provider's wire format)."""

from __future__ import annotations

import dataclasses
import json

import httpx

from sophon.llm import (
    AnthropicProvider,
    ChatMessage,
    ChatRequest,
    OpenAIProvider,
    ToolCall,
    ToolSpec,
)
from tests.llm.fakes import (
    FakeServer,
    JsonReply,
    SleepRecorder,
    anthropic_message,
    openai_completion,
    openai_tool_call,
)
from tests.llm.openai_helpers import CHAT, SEARCH

MESSAGES = "/v1/messages"


def history() -> list[ChatMessage]:
    calls = [
        ToolCall.from_raw("call_1", "memory.search", '{"query": "caf\u00e9"}'),
        ToolCall.from_raw("call_2", "a.b", "{}"),
    ]
    return [
        ChatMessage.system("Be brief."),
        ChatMessage.user(
            "Look \u2603 things up",
        ),
        ChatMessage.assistant("Searching.", calls),
        ChatMessage.tool("call_1", "3 cats", name="memory.search"),
        ChatMessage.tool("call_2", "failed", name="a.b", is_error=True),
        ChatMessage.assistant("Done."),
    ]


def fresh(messages: list[ChatMessage]) -> list[ChatMessage]:
    """The same messages as new objects, never sent before."""
    return [dataclasses.replace(m) for m in messages]


def openai(fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder) -> OpenAIProvider:
    fake.script("POST", CHAT, *[JsonReply(openai_completion("ok")) for _ in range(4)])
    return OpenAIProvider(http, base_url=f"{fake.url}/v1", name="openai", sleep=sleeps)


def anthropic(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> AnthropicProvider:
    reply = anthropic_message([{"type": "text", "text": "ok"}])
    fake.script("POST", MESSAGES, *[JsonReply(reply) for _ in range(4)])
    return AnthropicProvider(http, api_key="k", base_url=fake.url, name="claude", sleep=sleeps)


def bodies(fake: FakeServer, path: str) -> list[bytes]:
    return [sent.body for sent in fake.received(path)]


async def test_a_later_request_sends_its_earlier_messages_as_fresh_ones(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    p = openai(fake, http, sleeps)
    past = history()
    await p.complete(ChatRequest("m", past, [SEARCH]))
    later = [*past, ChatMessage.user("And?")]
    await p.complete(ChatRequest("m", later, [SEARCH]))
    await p.complete(ChatRequest("m", fresh(later), [SEARCH]))
    first, second, reference = bodies(fake, CHAT)
    assert second == reference
    assert second == json.dumps(json.loads(second)).encode()  # the standard encoding
    assert json.loads(second)["messages"][:-1] == json.loads(first)["messages"]
    assert json.loads(second)["messages"][-1] == {"role": "user", "content": "And?"}


async def test_a_newly_offered_tool_renames_a_history_call_it_collides_with(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    p = openai(fake, http, sleeps)
    past = history()
    await p.complete(ChatRequest("m", past))
    clashing = ToolSpec("a__b", "a tool whose wire name the history's a.b had")
    await p.complete(ChatRequest("m", past, [clashing]))
    await p.complete(ChatRequest("m", fresh(past), [clashing]))
    first, second, reference = bodies(fake, CHAT)
    assert second == reference

    def call_names(body: bytes) -> list[str]:
        calls = json.loads(body)["messages"][2]["tool_calls"]
        return [call["function"]["name"] for call in calls]

    assert call_names(first) == ["memory__search", "a__b"]
    renamed = call_names(second)[1]
    assert renamed not in ("a__b", "a.b")
    assert json.loads(second)["tools"][0]["function"]["name"] == "a__b"


async def test_switching_wire_formats_sends_each_its_own_form(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    primary, fallback = openai(fake, http, sleeps), anthropic(fake, http, sleeps)
    past = history()
    for p in (primary, fallback, primary, fallback):
        await p.complete(ChatRequest("m", past, [SEARCH]))
    for p in (primary, fallback):
        await p.complete(ChatRequest("m", fresh(past), [SEARCH]))
    *openai_sent, openai_reference = bodies(fake, CHAT)
    *anthropic_sent, anthropic_reference = bodies(fake, MESSAGES)
    assert openai_sent == [openai_reference] * 2
    assert anthropic_sent == [anthropic_reference] * 2
    assert json.loads(anthropic_reference)["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Look \u2603 things up"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Searching."},
                {
                    "type": "tool_use",
                    "id": "call_1",
                    "name": "memory__search",
                    "input": {"query": "caf\u00e9"},
                },
                {"type": "tool_use", "id": "call_2", "name": "a__b", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "3 cats"},
                {
                    "type": "tool_result",
                    "tool_use_id": "call_2",
                    "content": "failed",
                    "is_error": True,
                },
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "Done."}]},
    ]


async def test_a_tool_named_only_in_history_is_decoded_back(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    earlier = ToolCall.from_raw("call_1", "shell:run", "{}")
    past = [ChatMessage.user("run"), ChatMessage.assistant("", [earlier])]
    past.append(ChatMessage.tool("call_1", "ok", name="shell:run"))
    reply = openai_completion(None, [openai_tool_call("call_2", "shell_run", "{}")], "tool_calls")
    fake.script("POST", CHAT, JsonReply(reply))
    p = OpenAIProvider(http, base_url=f"{fake.url}/v1", name="openai", sleep=sleeps)
    response = await p.complete(ChatRequest("m", past, [SEARCH]))
    [sent] = fake.received(CHAT)
    assert json.loads(sent.body)["messages"][1]["tool_calls"][0]["function"]["name"] == "shell_run"
    assert [call.name for call in response.tool_calls] == ["shell:run"]


async def test_an_offered_tool_is_sent_as_a_fresh_spec_would_be_in_each_format_and_name(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    """A spec offered again (a registered tool's, turn after turn) keeps its JSON per wire format
    and wire name: two tools meeting on one wire name trade names when their order changes."""
    dotted, plain = ToolSpec("a.b", "dotted"), ToolSpec("a__b", "plain")
    primary, fallback = openai(fake, http, sleeps), anthropic(fake, http, sleeps)
    past = [ChatMessage.user("Hi")]
    for p in (primary, fallback):
        await p.complete(ChatRequest("m", past, [dotted, plain]))
        await p.complete(ChatRequest("m", past, [plain, dotted]))
        again = [dataclasses.replace(spec) for spec in (plain, dotted)]
        await p.complete(ChatRequest("m", past, again))
    for path in (CHAT, MESSAGES):
        first, swapped, reference = bodies(fake, path)
        assert swapped == reference
        assert swapped == json.dumps(json.loads(swapped)).encode()
        assert first != swapped
    names = [tool["function"]["name"] for tool in json.loads(bodies(fake, CHAT)[1])["tools"]]
    assert names[0] == "a__b"
    assert names[1] not in ("a__b", "a.b")
