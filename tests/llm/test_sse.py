"""The SSE decoder: line endings, comments, multi-line data and arbitrary chunk boundaries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sophon.llm.sse import ServerSentEvent, SseDecoder, aiter_sse

STREAM = (
    ": keep-alive comment\n"
    "event: content_block_delta\n"
    'data: {"a":1}\n'
    "\n"
    "data: line one\n"
    "data: line two\n"
    "id: 7\n"
    "\n"
    "data:no-space\n"
    "\n"
)
EXPECTED = [
    ServerSentEvent('{"a":1}', "content_block_delta"),
    ServerSentEvent("line one\nline two", id="7"),
    ServerSentEvent("no-space", id="7"),
]


def decode(pieces: list[str]) -> list[ServerSentEvent]:
    decoder = SseDecoder()
    events: list[ServerSentEvent] = []
    for piece in pieces:
        events += decoder.feed(piece)
    return events + decoder.flush()


def test_fields_comments_and_multiline_data() -> None:
    assert decode([STREAM]) == EXPECTED


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_crlf_and_cr_line_endings(newline: str) -> None:
    assert decode([STREAM.replace("\n", newline)]) == EXPECTED


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_split_point_gives_the_same_events(newline: str) -> None:
    text = STREAM.replace("\n", newline)
    for cut in range(len(text) + 1):
        assert decode([text[:cut], text[cut:]]) == EXPECTED, cut
    assert decode(list(text)) == EXPECTED


def test_crlf_split_between_cr_and_lf_is_one_line_break() -> None:
    decoder = SseDecoder()
    assert decoder.feed("data: x\r") == []
    assert decoder.feed("\n\r") == []
    assert decoder.feed("\n") == [ServerSentEvent("x")]


def test_event_without_data_is_not_dispatched_and_resets_its_type() -> None:
    assert decode(["event: ping\n\n", "data: after\n\n"]) == [ServerSentEvent("after")]


def test_empty_data_lines_join_and_field_without_colon() -> None:
    assert decode(["data\ndata\n\ndata:\n\n"]) == [ServerSentEvent("\n"), ServerSentEvent("")]


def test_retry_bom_and_unknown_fields() -> None:
    events = decode(["\ufeffretry: 3000\nfoo: bar\ndata: x\n\n"])
    assert events == [ServerSentEvent("x", retry=3000)]


def test_flush_dispatches_a_last_event_without_blank_line() -> None:
    decoder = SseDecoder()
    assert decoder.feed("data: [DONE]") == []
    assert decoder.flush() == [ServerSentEvent("[DONE]")]


async def test_bytes_with_multibyte_characters_split_across_chunks() -> None:
    raw = "data: héllo ✓\r\n\r\ndata: 🙂\n\n".encode()

    async def one_byte_at_a_time() -> AsyncIterator[bytes]:
        for index in range(len(raw)):
            yield raw[index : index + 1]

    events = [event async for event in aiter_sse(one_byte_at_a_time())]
    assert events == [ServerSentEvent("héllo ✓"), ServerSentEvent("🙂")]
