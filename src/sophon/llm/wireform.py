"""Request bodies encoded to JSON once per message: each message's wire form is kept with the
message (a session's history keeps its messages from turn to turn), so a request encodes only
the messages new since the previous one and joins the rest as they are."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sophon.llm.base import ChatMessage, ToolSpec
from sophon.llm.toolnames import ToolNameMap

MessageEncoder = Callable[[ChatMessage, ToolNameMap], str]
ToolEncoder = Callable[[ToolSpec, str], str]


@dataclass(frozen=True, slots=True)
class JsonText:
    """A body value already encoded as JSON text."""

    text: str


def message_texts(
    messages: list[ChatMessage], wire_format: str, names: ToolNameMap, encode: MessageEncoder
) -> list[str]:
    """`encode(message, names)` of each message, made once per wire format. The wire names of a
    message's tool calls are part of what is kept: a name this request's map encodes otherwise
    (it met another name on one wire name) makes the text again. Encoding them here also enters
    the history's names into `names`, in order, for decoding the answer."""
    texts: list[str] = []
    for message in messages:
        calls = message.tool_calls
        key = tuple([names.encode(call.name) for call in calls]) if calls else ()
        forms = message.wire_forms
        kept = forms.get(wire_format) if forms is not None else None
        if kept is not None and kept[0] == key:
            texts.append(kept[1])
            continue
        text = encode(message, names)
        if forms is None:
            forms = message.wire_forms = {}
        forms[wire_format] = (key, text)
        texts.append(text)
    return texts


def tools_json(
    tools: list[ToolSpec], wire_format: str, names: ToolNameMap, encode: ToolEncoder
) -> JsonText:
    """The offered tools as a JSON array: `encode(tool, wire_name)` of each, made once per wire
    format and wire name."""
    texts: list[str] = []
    for tool in tools:
        key = (wire_format, names.encode(tool.name))
        text = tool.wire_forms.get(key)
        if text is None:
            text = tool.wire_forms[key] = encode(tool, key[1])
        texts.append(text)
    return JsonText("[" + ", ".join(texts) + "]")


def encode_body(body: Mapping[str, Any]) -> bytes:
    """`json.dumps(body).encode()`, byte for byte, with `JsonText` values as they are."""
    fields = [
        f"{json.dumps(key)}: {value.text if isinstance(value, JsonText) else json.dumps(value)}"
        for key, value in body.items()
    ]
    return ("{" + ", ".join(fields) + "}").encode()
