"""The SignalR JSON hub protocol: frames end with the record separator 0x1E; message types 1..7."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

RS = "\x1e"
PROTOCOL = "json"
PROTOCOL_VERSION = 1


class MessageType(IntEnum):
    INVOCATION = 1
    STREAM_ITEM = 2
    COMPLETION = 3
    STREAM_INVOCATION = 4
    CANCEL_INVOCATION = 5
    PING = 6
    CLOSE = 7


_TYPES = frozenset(t.value for t in MessageType)


class ProtocolError(Exception):
    """A frame this server cannot accept; the connection is closed with this message."""


@dataclass(frozen=True, slots=True)
class Invocation:
    type: MessageType
    target: str
    arguments: list[Any]
    invocation_id: str | None
    stream_ids: list[str] | None


def frame(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False) + RS


def split_frames(buffer: str) -> tuple[list[str], str]:
    """Complete frames in `buffer`, and the incomplete rest to keep for the next read."""
    *complete, rest = buffer.split(RS)
    return complete, rest


def parse_handshake(text: str) -> None:
    """Checks `{"protocol":"json","version":1}`; raises ProtocolError with the reason."""
    try:
        request = json.loads(text)
    except ValueError:
        raise ProtocolError("The handshake request is not valid JSON.") from None
    if not isinstance(request, dict) or not isinstance(request.get("protocol"), str):
        raise ProtocolError("The handshake request has no 'protocol'.")
    if request["protocol"] != PROTOCOL:
        raise ProtocolError(f"The protocol '{request['protocol']}' is not supported; use 'json'.")
    version = request.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ProtocolError("The handshake request has no 'version'.")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"The protocol 'json' version {version} is not supported; use 1.")


def parse_message(text: str) -> dict[str, Any]:
    try:
        message = json.loads(text)
    except ValueError:
        raise ProtocolError("A message is not valid JSON.") from None
    if not isinstance(message, dict):
        raise ProtocolError("A message must be a JSON object.")
    kind = message.get("type")
    if (
        not isinstance(kind, int)
        or isinstance(kind, bool)
        or kind not in MessageType._value2member_map_
    ):
        raise ProtocolError(f"Unknown message type: {kind!r}.")
    return message


def invocation(message: dict[str, Any]) -> Invocation:
    """Reads an Invocation or StreamInvocation; raises ProtocolError when a field is wrong."""
    kind = MessageType(message["type"])
    target = message.get("target")
    if not isinstance(target, str) or not target:
        raise ProtocolError("An invocation has no 'target'.")
    arguments = message.get("arguments", [])
    if not isinstance(arguments, list):
        raise ProtocolError("An invocation's 'arguments' must be an array.")
    invocation_id = message.get("invocationId")
    if invocation_id is not None and not isinstance(invocation_id, str):
        raise ProtocolError("An 'invocationId' must be a string.")
    if kind is MessageType.STREAM_INVOCATION and invocation_id is None:
        raise ProtocolError("A stream invocation needs an 'invocationId'.")
    stream_ids = message.get("streamIds")
    if stream_ids is not None and not isinstance(stream_ids, list):
        raise ProtocolError("'streamIds' must be an array.")
    return Invocation(kind, target, arguments, invocation_id, stream_ids)


def event_message(target: str, *arguments: Any) -> dict[str, Any]:
    """A server-to-client invocation (no invocationId: the client does not answer)."""
    return {"type": MessageType.INVOCATION, "target": target, "arguments": list(arguments)}


def completion(
    invocation_id: str, *, result: Any = None, error: str | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {"type": MessageType.COMPLETION, "invocationId": invocation_id}
    if error is not None:
        message["error"] = error
    elif result is not None:
        message["result"] = result
    return message


def stream_item(invocation_id: str, item: Any) -> dict[str, Any]:
    return {"type": MessageType.STREAM_ITEM, "invocationId": invocation_id, "item": item}


PING: dict[str, Any] = {"type": MessageType.PING}


def close_message(error: str | None = None, *, allow_reconnect: bool = False) -> dict[str, Any]:
    message: dict[str, Any] = {"type": MessageType.CLOSE}
    if error is not None:
        message["error"] = error
    if allow_reconnect:
        message["allowReconnect"] = True
    return message
