"""The Gateway's public REST API over httpx, with its failures turned into one-line CLI errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from sophon import __version__
from sophon.cli.errors import EXIT_AUTH, EXIT_ERROR, EXIT_UNREACHABLE, CliError

DEFAULT_TIMEOUT = 30.0


class ApiError(CliError):
    """The Gateway answered 4xx/5xx; `message` is the envelope's, with its code and request id."""

    def __init__(
        self, status: int, code: str, message: str, request_id: str | None, details: Any
    ) -> None:
        self.status = status
        self.code = code
        self.request_id = request_id
        self.details = details
        self.reason = message
        exit_code = EXIT_AUTH if status in (401, 403) else EXIT_ERROR
        super().__init__(_describe(status, code, message, request_id, details), exit_code)

    def envelope(self) -> dict[str, Any]:
        """The Gateway's own envelope, as it sent it."""
        error = {"code": self.code, "message": self.reason, "details": self.details or {},
                 "requestId": self.request_id}  # fmt: skip
        return {"error": error}


class Unreachable(CliError):
    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_UNREACHABLE)


def _describe(status: int, code: str, message: str, request_id: str | None, details: Any) -> str:
    text = message.rstrip()
    fields = details.get("fields") if isinstance(details, dict) else None
    if isinstance(fields, list) and fields:
        parts = [f"{f.get('field')}: {f.get('message')}" for f in fields if isinstance(f, dict)]
        text = f"{text} {'; '.join(parts)}"
    where = f"{code}, HTTP {status}" + (f", request {request_id}" if request_id else "")
    hint = " Run `sophon login`." if status == 401 else ""
    return f"{text} ({where}){hint}"


def error_from(response: httpx.Response) -> ApiError:
    request_id = response.headers.get("x-sophon-request-id")
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return ApiError(
            response.status_code,
            str(error.get("code") or "error"),
            error["message"],
            error.get("requestId") or request_id,
            error.get("details"),
        )
    reason = response.reason_phrase or "error"
    return ApiError(response.status_code, "http_error", f"HTTP {reason}.", request_id, None)


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None


class Api:
    """One Gateway; `token` is sent as a Bearer credential when set."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        headers = {"User-Agent": f"sophon-cli/{__version__}", "Accept": "application/json"}
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | Iterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        token: str | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        credential = token or self.token
        if credential:
            sent["Authorization"] = f"Bearer {credential}"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            response = self._http.request(
                method, path, json=json, params=query, content=content, headers=sent, **extra
            )
        except httpx.TimeoutException:
            raise Unreachable(f"the Gateway at {self.base_url} did not answer in time") from None
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach the Gateway at {self.base_url}: {exc}") from None
        if response.status_code >= 400:
            raise error_from(response)
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(f"the Gateway sent a response that is not JSON ({path})") from None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.call("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.call("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.call("DELETE", path, **kwargs)

    def page(self, path: str, *, limit: int, cursor: str | None = None, **params: Any) -> Page:
        body = self.get(path, params={"limit": limit, "cursor": cursor, **params})
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise CliError(f"the Gateway sent an unexpected list from {path}")
        return Page(items=body["items"], next_cursor=body.get("nextCursor") or None)

    def pages(self, path: str, *, limit: int, **params: Any) -> Iterator[Page]:
        """Every page in turn, following `nextCursor`."""
        cursor: str | None = None
        while True:
            page = self.page(path, limit=limit, cursor=cursor, **params)
            yield page
            if not page.next_cursor:
                return
            cursor = page.next_cursor


def optional(action: Callable[[], Any], *missing: int) -> Any:
    """The action's result, or None when the Gateway answers one of `missing` (404 by default):
    used for features a Gateway may not have yet."""
    try:
        return action()
    except ApiError as exc:
        if exc.status in (missing or (404,)):
            return None
        raise
