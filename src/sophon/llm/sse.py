"""Incremental Server-Sent Events decoder (WHATWG rules) shared by the streaming adapters."""

from __future__ import annotations

import codecs
from collections.abc import AsyncGenerator, AsyncIterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event; `event` defaults to "message" as the standard says."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SseDecoder:
    """Feed it text in arbitrary pieces; it returns the events completed so far.

    Lines may end in LF, CRLF or a lone CR, and a chunk may end anywhere (even between the CR and
    LF of one line break). Comment lines (starting with ':') are skipped, several `data:` lines
    join with a newline, and an event without data is not dispatched."""

    def __init__(self) -> None:
        self._buffer = ""
        self._started = False
        self._data: list[str] = []
        self._event = ""
        self._last_id: str | None = None
        self._retry: int | None = None

    def feed(self, text: str) -> list[ServerSentEvent]:
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        self._buffer += text
        events: list[ServerSentEvent] = []
        for line in self._complete_lines():
            event = self._process_line(line)
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: a last event not followed by a blank line is still dispatched (lenient
        where the standard would drop it, because some servers omit the final blank line)."""
        events: list[ServerSentEvent] = []
        rest, self._buffer = self._buffer, ""
        for line in rest.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            event = self._process_line(line) if line else None
            if event is not None:
                events.append(event)
        event = self._dispatch()
        if event is not None:
            events.append(event)
        return events

    def _complete_lines(self) -> list[str]:
        buffer = self._buffer
        held = ""
        if "\r" in buffer:
            if buffer.endswith("\r"):  # it may be the first half of a CRLF: wait for the rest
                buffer, held = buffer[:-1], "\r"
            buffer = buffer.replace("\r\n", "\n").replace("\r", "\n")
        *lines, rest = buffer.split("\n")
        self._buffer = rest + held
        return lines

    def _process_line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self._last_id = value
        elif field == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._data:
            self._event = ""
            return None
        event = ServerSentEvent(
            data="\n".join(self._data),
            event=self._event or "message",
            id=self._last_id,
            retry=self._retry,
        )
        self._data = []
        self._event = ""
        return event


async def aiter_sse(chunks: AsyncIterable[bytes]) -> AsyncGenerator[ServerSentEvent, None]:
    """Decodes a byte stream (UTF-8, multi-byte characters may be split across chunks)."""
    decoder = SseDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
    async for chunk in chunks:
        for event in decoder.feed(utf8.decode(chunk)):
            yield event
    for event in decoder.feed(utf8.decode(b"", final=True)):
        yield event
    for event in decoder.flush():
        yield event
