"""A small client of the chat hub (`/hubs/chat`, the SignalR JSON protocol over a WebSocket):
invoke hub methods and receive the session's events. A reader thread parses frames into a queue;
a keep-alive thread pings, so the connection survives while the REPL waits for input."""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import signal
import threading
from collections.abc import Iterator
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.sync.client import ClientConnection, connect

from sophon.cli.errors import EXIT_AUTH, EXIT_ERROR, EXIT_UNREACHABLE, CliError

RS = "\x1e"
INVOCATION, COMPLETION, PING, CLOSE = 1, 3, 6, 7
_KEEPALIVE_SECONDS = 10.0


class HubClosed(CliError):
    """The connection is gone (or never came up); `reason` says why in words."""

    def __init__(self, reason: str, exit_code: int = EXIT_ERROR) -> None:
        self.reason = reason
        super().__init__(f"lost the connection to the Gateway: {reason}", exit_code)


class NotSent(HubClosed):
    """The connection was gone before a call went out: safe to send again once reconnected."""


def _in_words(exc: BaseException) -> HubClosed:
    """A connection failure as a person would put it, not as the WebSocket library does."""
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        if status in (401, 403):
            return HubClosed("the Gateway refused the sign-in; run `sophon login`", EXIT_AUTH)
        return HubClosed(f"the Gateway answered HTTP {status} instead of opening the chat hub")
    if isinstance(exc, ConnectionRefusedError):
        return HubClosed("nothing listens at that address", EXIT_UNREACHABLE)
    if isinstance(exc, ConnectionClosed):
        return HubClosed("the Gateway closed the connection")
    if isinstance(exc, TimeoutError):
        return HubClosed("the Gateway did not answer in time")
    if isinstance(exc, OSError) and exc.strerror:
        return HubClosed(exc.strerror[:1].lower() + exc.strerror[1:], EXIT_UNREACHABLE)
    return HubClosed("the connection failed")


@contextlib.contextmanager
def _threads_without_sigint() -> Iterator[None]:
    """Threads started inside inherit a mask that blocks SIGINT, so Ctrl+C always reaches the
    main thread: delivered to another thread it would leave `input()` blocked, unaware."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _frame(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":")) + RS


class ChatHub:
    """One connection; `events` yields `(target, payload)` of the server's invocations."""

    def __init__(self, base_url: str, token: str | None, timeout: float = 10.0) -> None:
        url = "ws" + base_url.removeprefix("http") + "/hubs/chat"
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            with _threads_without_sigint():
                self._ws: ClientConnection = connect(
                    url, additional_headers=headers, open_timeout=timeout, close_timeout=2
                )
            self._ws.send(_frame({"protocol": "json", "version": 1}))
            reply = str(self._ws.recv(timeout=timeout))
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise _in_words(exc) from None
        handshake = json.loads(reply.split(RS, 1)[0] or "{}")
        if handshake.get("error"):
            self._ws.close()
            raise HubClosed(str(handshake["error"]))
        self._ids = itertools.count(1)
        self._inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._stopped = threading.Event()
        self._lost = threading.Event()
        self.lost_reason = "the Gateway went away"
        with _threads_without_sigint():
            threading.Thread(target=self._read, name="hub-reader", daemon=True).start()
            threading.Thread(target=self._keepalive, name="hub-keepalive", daemon=True).start()

    @property
    def closed(self) -> bool:
        """The connection is gone: the Gateway stopped, restarted or dropped it."""
        return self._lost.is_set()

    def close(self) -> None:
        self._stopped.set()
        with contextlib.suppress(WebSocketException, OSError):
            self._ws.close()

    def invoke(self, target: str, *arguments: Any, timeout: float = 30.0) -> Any:
        """Calls a hub method and returns its result; events that arrive meanwhile are kept."""
        invocation_id = str(next(self._ids))
        self._send({"type": INVOCATION, "invocationId": invocation_id, "target": target,
                    "arguments": list(arguments)})  # fmt: skip
        held: list[dict[str, Any]] = []
        try:
            while True:
                message = self._next(timeout)
                mine = message.get("invocationId") == invocation_id
                if message.get("type") == COMPLETION and mine:
                    if message.get("error"):
                        raise CliError(str(message["error"]))
                    return message.get("result")
                held.append(message)
        finally:
            for kept in held:
                self._inbox.put(kept)

    def event(self, timeout: float) -> tuple[str, dict[str, Any]] | None:
        """The next server event, or None when none came within `timeout` seconds."""
        try:
            message = self._next(timeout)
        except TimeoutError:
            return None
        if message.get("type") != INVOCATION:
            return None
        arguments = message.get("arguments") or [{}]
        payload = arguments[0] if isinstance(arguments[0], dict) else {"value": arguments[0]}
        return str(message.get("target")), payload

    def _next(self, timeout: float) -> dict[str, Any]:
        try:
            message = self._inbox.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError from None
        if message is None:
            self._inbox.put(None)  # stays closed for every later reader
            raise HubClosed("the Gateway went away")
        if message.get("type") == CLOSE:
            self._lost.set()
            self._inbox.put(None)
            raise HubClosed(str(message.get("error") or "the Gateway closed the connection"))
        return message

    def _send(self, message: dict[str, Any]) -> None:
        if self._lost.is_set():
            raise NotSent("the Gateway went away")
        try:
            self._ws.send(_frame(message))
        except (WebSocketException, OSError) as exc:
            self._lost.set()
            raise NotSent(_in_words(exc).reason) from None

    def _read(self) -> None:
        buffer = ""
        try:
            for data in self._ws:
                buffer += data if isinstance(data, str) else data.decode()
                *complete, buffer = buffer.split(RS)
                for text in complete:
                    if text:
                        message = json.loads(text)
                        if message.get("type") == CLOSE:
                            self.lost_reason = str(message.get("error") or self.lost_reason)
                            self._lost.set()
                        if message.get("type") != PING:
                            self._inbox.put(message)
        except (WebSocketException, OSError, ValueError):
            pass
        finally:
            self._lost.set()
            self._inbox.put(None)

    def _keepalive(self) -> None:
        while not self._stopped.wait(_KEEPALIVE_SECONDS):
            try:
                self._send({"type": PING})
            except HubClosed:
                return
