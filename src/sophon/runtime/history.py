"""From stored messages to what the model reads: the history after the latest compaction, tool
results and channel text inside the external-content wrapper, and the split point when the
history outgrows the context window."""

from __future__ import annotations

import json
from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from typing import Any

from sophon.chat.history import HISTORY_COLUMNS
from sophon.chat.models import Message
from sophon.llm import ChatMessage, ToolCall
from sophon.llm.base import estimate_tokens
from sophon.runtime.external import wrap
from sophon.tools.registry import wrapper_source

# channels whose text is typed by the session's own user in a Sophon client
TRUSTED_CHANNELS = frozenset({None, "", "webchat", "cli", "api", "dashboard"})
NO_RESULT = "No result was recorded for this call (it was interrupted)."


@dataclass(frozen=True, slots=True)
class Past:
    """A stored message as a turn's context reads it: plain values, not an ORM instance, as a
    long session loads hundreds of them for every turn."""

    id: str
    role: str
    content: str
    tool_calls: list[dict[str, Any]]
    tool_call_id: str | None
    meta: dict[str, Any]
    tokens: int = field(init=False, compare=False)
    """Estimated, once: `compaction_split` counts a long history on every step."""

    def __post_init__(self) -> None:
        args = sum(estimate_tokens(json.dumps(c.get("arguments", {}))) for c in self.tool_calls)
        object.__setattr__(self, "tokens", estimate_tokens(self.content) + args + 4)

    @classmethod
    def of(cls, message: Message) -> Past:
        return cls(*(getattr(message, c.key) for c in HISTORY_COLUMNS))


def since_compaction(messages: Sequence[Past]) -> tuple[Past | None, list[Past]]:
    """The latest compaction summary and the messages it does not cover, in order."""
    summary = None
    for message in messages:
        if message.meta.get("compaction"):
            summary = message
    if summary is None:
        return None, [m for m in messages if not m.meta.get("compaction")]
    through = str(summary.meta.get("through", ""))
    return summary, [m for m in messages if m.id > through and not m.meta.get("compaction")]


def to_model(
    messages: Sequence[Past],
    channel_id: str | None,
    summary: Past | None = None,
    answered_before: Set[str | None] = frozenset(),
) -> list[ChatMessage]:
    """`messages` as the model reads them; `answered_before`: the calls answered by tool
    messages before them, when they are the rest of a history."""
    out: list[ChatMessage] = []
    if summary is not None:
        out.append(ChatMessage.system(f"Summary of the earlier conversation:\n{summary.content}"))
    answered = answered_before | answered_calls(messages)
    for message in messages:
        if message.role == "user":
            text = message.content
            if channel_id not in TRUSTED_CHANNELS:
                text = wrap(text, f"channel:{channel_id}")
            out.append(ChatMessage.user(text))
        elif message.role == "assistant":
            calls = [_call(entry) for entry in message.tool_calls]
            out.append(ChatMessage.assistant(message.content, calls))
            out += [
                ChatMessage.tool(c.id, NO_RESULT, name=c.name, is_error=True)
                for c in calls
                if c.id not in answered
            ]
        elif message.role == "tool":
            name = str(message.meta.get("toolName", "tool"))
            source = message.meta.get("source")
            out.append(
                ChatMessage.tool(
                    message.tool_call_id or "",
                    wrap(message.content, str(source) if source else wrapper_source(name)),
                    name=name,
                    is_error=bool(message.meta.get("isError")),
                )
            )
    return out


def answered_calls(messages: Sequence[Past]) -> set[str | None]:
    """The calls the tool messages among `messages` answer."""
    return {m.tool_call_id for m in messages if m.role == "tool"}


def all_answered(messages: Sequence[Past], answered: Set[str | None]) -> bool:
    """Whether every call of `messages` has its answer in `answered`."""
    return all(str(c["id"]) in answered for m in messages for c in m.tool_calls)


def _call(entry: dict[str, object]) -> ToolCall:
    arguments = entry.get("arguments")
    args = arguments if isinstance(arguments, dict) else {}
    return ToolCall(str(entry["id"]), str(entry["name"]), args, json.dumps(args))


def compaction_split(messages: Sequence[Past], budget: int, total: int | None = None) -> int:
    """How many leading messages to summarise so the rest fits in half the budget, cut at a
    user message so a tool call is never separated from its result; 0 when all fits. `total`:
    the messages' tokens, when known."""
    if total is None:
        total = sum(m.tokens for m in messages)
    if total <= budget:
        return 0
    keep_budget = budget // 2
    kept = 0
    split = len(messages)
    for index in range(len(messages) - 1, -1, -1):
        kept += messages[index].tokens
        if kept > keep_budget:
            break
        if messages[index].role == "user":
            split = index
    if split == len(messages):  # the newest turn alone is too big: keep its user message
        users = [i for i, m in enumerate(messages) if m.role == "user"]
        split = users[-1] if users else len(messages)
    return split


def digest(messages: Sequence[Past], limit: int = 160) -> str:
    """A summary without a model: who said what, each message cut short."""
    lines = []
    for message in messages:
        text = " ".join(message.content.split())
        if message.role == "assistant" and message.tool_calls:
            names = ", ".join(str(c.get("name")) for c in message.tool_calls)
            text = f"{text} [called {names}]".strip()
        if text:
            lines.append(f"- {message.role}: {text[:limit]}")
    return "\n".join(lines)
