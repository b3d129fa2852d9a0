"""The HTTP core the adapters share: bounded retries with backoff, timeouts and error mapping over
an injected `httpx.AsyncClient`."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from sophon.llm.errors import (
    ProviderBadRequest,
    ProviderError,
    ProviderProtocolError,
    ProviderTimeout,
    ProviderUnavailable,
    error_for_status,
    parse_retry_after,
)
from sophon.llm.sse import ServerSentEvent, aiter_sse

Sleep = Callable[[float], Awaitable[None]]
ErrorMessage = Callable[[Any], str | None]

# A long read timeout: a model may think for a while before its first token, and between chunks.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=10.0)
_RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})
_RETRIED_TRANSPORT = (
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
_MAX_MESSAGE = 500
_REST_SECONDS = 0.2  # for the end of a body after the answer's last event (it comes at once)
_REST_EVENTS = 8


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries inside one adapter call, before any response body was consumed.

    Retried: 408, 429, 5xx (incl. Anthropic's 529) and failures to connect or to get a response
    head. Not retried: read timeouts once the request was sent (the upstream may still be
    working), auth errors and other 4xx. The delay is `Retry-After` when the upstream sent one,
    else `base_delay * 2**attempt` capped at `max_delay`; a `Retry-After` longer than
    `max_retry_after` is not waited for: the error is raised so the caller can fail over."""

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to sleep before retry number `attempt + 1`, or None to give up now."""
        if attempt >= self.max_retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        return min(self.max_delay, self.base_delay * 2.0**attempt)


def transport_error(exc: httpx.HTTPError | httpx.InvalidURL, provider: str) -> ProviderError:
    """Maps an httpx failure (no usable HTTP status) to a typed provider error."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(f"{provider}: timed out ({type(exc).__name__})", provider=provider)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return ProviderBadRequest(f"{provider}: invalid base URL: {detail}", provider=provider)
    return ProviderUnavailable(f"{provider}: connection failed: {detail}", provider=provider)


async def read_rest(events: AsyncGenerator[ServerSentEvent, None]) -> None:
    """Reads the end of a stream whose answer is complete (usually no event, just the body's
    last bytes), so its connection goes back to the pool instead of being closed: a turn then
    opens no new connection to its provider. Gives up, and lets the connection close, after a
    few events or 0.2 s (a stream held open delays the answer no longer); a failure there is
    no failure of the answer."""
    with contextlib.suppress(TimeoutError, StopAsyncIteration, ProviderError):
        async with asyncio.timeout(_REST_SECONDS):
            for _ in range(_REST_EVENTS):
                await anext(events)


class ProviderHttp:
    """Sends JSON requests for one configured provider. `error_message` pulls the human message
    out of the upstream's error body (each API shapes it differently)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        provider: str,
        timeout: httpx.Timeout | float | None,
        retry: RetryPolicy,
        sleep: Sleep = asyncio.sleep,
        error_message: ErrorMessage,
    ) -> None:
        self.client = client
        self.provider = provider
        self.timeout = timeout
        self.retry = retry
        self.sleep = sleep
        self.error_message = error_message

    async def get_json(
        self, url: str, headers: Mapping[str, str], params: Mapping[str, str] | None = None
    ) -> Any:
        response = await self._send("GET", url, headers, None, params)
        return await self._read_json(response)

    async def post_json(self, url: str, headers: Mapping[str, str], body: bytes) -> Any:
        """POSTs `body`, JSON text, and reads the JSON answer."""
        response = await self._send("POST", url, headers, body, None)
        return await self._read_json(response)

    @asynccontextmanager
    async def stream_events(
        self, url: str, headers: Mapping[str, str], body: bytes
    ) -> AsyncIterator[AsyncGenerator[ServerSentEvent, None]]:
        """POSTs `body` (JSON text), then yields the response's SSE events; leaving the block
        (or cancelling the task) closes the connection. Failures while reading are mapped but
        never retried: part of the answer may already have been delivered."""
        response = await self._send("POST", url, headers, body, None, "text/event-stream")
        events = self._events(response)
        try:
            yield events
        finally:
            await events.aclose()
            await response.aclose()

    async def _events(self, response: httpx.Response) -> AsyncGenerator[ServerSentEvent, None]:
        try:
            async with aclosing(aiter_sse(response.aiter_bytes())) as events:
                async for event in events:
                    yield event
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.provider) from exc

    async def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        params: Mapping[str, str] | None,
        accept: str = "application/json",
    ) -> httpx.Response:
        all_headers = {"accept": accept, **headers}
        if content is not None:
            all_headers["content-type"] = "application/json"
        attempt = 0
        while True:
            try:
                request = self.client.build_request(
                    method,
                    url,
                    headers=all_headers,
                    content=content,
                    params=params,
                    **self._timeout(),
                )
            except httpx.InvalidURL as exc:
                raise transport_error(exc, self.provider) from exc
            try:
                response = await self.client.send(request, stream=True)
            except _RETRIED_TRANSPORT as exc:
                error = transport_error(exc, self.provider)
                error.__cause__ = exc
            except httpx.HTTPError as exc:
                raise transport_error(exc, self.provider) from exc
            else:
                if response.is_success:
                    return response
                error = await self._status_error(response)
                if response.status_code not in _RETRIED_STATUSES:
                    raise error
            delay = self.retry.delay(attempt, error.retry_after)
            if delay is None:
                raise error
            await self.sleep(delay)
            attempt += 1

    def _timeout(self) -> dict[str, Any]:
        return {} if self.timeout is None else {"timeout": self.timeout}

    async def _status_error(self, response: httpx.Response) -> ProviderError:
        try:
            raw = await response.aread()
        except httpx.HTTPError:
            raw = b""
        finally:
            await response.aclose()
        text = raw.decode("utf-8", "replace")
        message: str | None
        try:
            message = self.error_message(json.loads(text))
        except ValueError:
            message = None
        if message is None:
            message = text.strip() or response.reason_phrase
        return error_for_status(
            response.status_code,
            message[:_MAX_MESSAGE],
            provider=self.provider,
            retry_after=parse_retry_after(response.headers),
        )

    async def _read_json(self, response: httpx.Response) -> Any:
        try:
            raw = await response.aread()
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.provider) from exc
        finally:
            await response.aclose()
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ProviderProtocolError(
                f"{self.provider}: the response is not JSON", provider=self.provider
            ) from exc


def parse_error(provider: str, payload: Any) -> ProviderProtocolError:
    """A well-formed HTTP answer whose JSON does not have the documented shape."""
    snippet = json.dumps(payload)[:200] if payload is not None else "nothing"
    return ProviderProtocolError(
        f"{provider}: unexpected response shape: {snippet}", provider=provider
    )
