"""What a connection to one external MCP server needs, decrypted, and how it is opened: a
command run without a shell (clean environment plus the declared `env`), or a URL vetted by the
outbound guard, with the registration's auth as headers."""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sophon.platform.netguard import OutboundPolicy, Resolver, system_resolver, vetted_addresses

if TYPE_CHECKING:  # the MCP SDK (and httpx2) load when a link first opens streams
    from mcp.shared._stream_protocols import ReadStream, WriteStream
    from mcp.shared.message import SessionMessage

    Streams = tuple[ReadStream[SessionMessage | Exception], WriteStream[SessionMessage]]


@dataclass(frozen=True)
class ServerSpec:
    id: str
    tenant_id: str
    name: str
    transport: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    excluded: frozenset[str] = frozenset()
    risk_overrides: Mapping[str, str] = field(default_factory=dict)
    approved: Mapping[str, str] = field(default_factory=dict)
    """Tool name -> definition hash as approved."""
    timeout_seconds: float = 30.0
    enabled: bool = True
    sandbox: Path | None = None
    """stdio in the sandbox: the data dir to hide (None: not sandboxed)."""
    problem: str | None = None
    """Why it can't connect at all (e.g. a `{{vault:<name>}}` that names no connection)."""


class SpecProblem(RuntimeError):
    """The registration can't be connected as configured."""


def auth_headers(auth_type: str, secret: Mapping[str, str]) -> dict[str, str]:
    """`bearer` -> `Authorization: Bearer`, `basic` -> `Authorization: Basic`, `apiKey` -> the
    named header (default `X-API-Key`)."""
    if auth_type == "bearer":
        return {"Authorization": f"Bearer {secret.get('token', '')}"}
    if auth_type == "basic":
        pair = f"{secret.get('username', '')}:{secret.get('password', '')}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
    if auth_type == "apiKey":
        return {secret.get("header") or "X-API-Key": secret.get("key", "")}
    return {}


async def vet_url(url: str, policy: OutboundPolicy, resolver: Resolver = system_resolver) -> None:
    """OutboundRefused unless every address the URL's host resolves to may be contacted (an
    early, clear refusal; every connection the transport opens is vetted again)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    await vetted_addresses(policy, resolver, parts.hostname or "", port, None)


class SandboxMissing(RuntimeError):
    pass


def sandboxed(command: str, args: list[str], data: Path) -> tuple[str, list[str]]:
    """The command inside bubblewrap: the host read-only, a private /tmp, its own PID namespace,
    the data dir hidden under an empty tmpfs, network allowed (MCP servers call APIs)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxMissing("the sandbox (bubblewrap) is not installed; the server is not run")
    kept = [
        arg
        for top in _tops_below_tmp([shutil.which(command) or command, *args])
        for arg in ("--ro-bind", top, top)
    ]
    return bwrap, [
        "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",  # noqa: S108 (a fresh tmpfs inside)
        *kept, "--tmpfs", str(data.resolve()), "--unshare-pid", "--unshare-ipc",
        "--die-with-parent", "--new-session", "--", command, *args,
    ]  # fmt: skip


def _tops_below_tmp(paths: list[str]) -> list[str]:
    """The directories right below /tmp that the command and its path arguments live in (a
    checkout or virtualenv kept there): the private /tmp would hide them, so they are bound back,
    read-only. Symlinks are not followed: a virtualenv's python is a link out of its own dir."""
    tops = set()
    for candidate in paths:
        parts = Path(os.path.abspath(candidate)).parts
        if len(parts) > 2 and parts[:2] == ("/", "tmp") and os.path.lexists(candidate):
            tops.add(os.path.join("/tmp", parts[2]))  # noqa: S108 (a path of the host's /tmp)
    return sorted(tops)


@contextlib.asynccontextmanager
async def open_streams(
    spec: ServerSpec, policy: OutboundPolicy, resolver: Resolver = system_resolver
) -> AsyncIterator[Streams]:
    """The transport's read and write streams, for `ClientSession`. Remote transports go through
    the guarded client (`platform.http_mcp`): each connection's addresses are vetted."""
    import httpx2
    from mcp.client.sse import sse_client
    from mcp.client.stdio import StdioServerParameters, stdio_client
    from mcp.client.streamable_http import streamable_http_client

    from sophon.platform.http_mcp import mcp_client_factory

    if spec.problem is not None:
        raise SpecProblem(spec.problem)
    if spec.transport == "stdio":
        assert spec.command is not None
        command, args = spec.command, list(spec.args)
        if spec.sandbox is not None:
            command, args = sandboxed(command, args, spec.sandbox)
        params = StdioServerParameters(command=command, args=args, env=dict(spec.env))
        with open("/dev/null", "w") as quiet:  # noqa: ASYNC230 (opening /dev/null never blocks)
            async with stdio_client(params, errlog=quiet) as streams:
                yield streams
        return
    assert spec.url is not None
    await vet_url(spec.url, policy, resolver)
    factory = mcp_client_factory(policy, resolver)
    if spec.transport == "sse":
        async with sse_client(
            spec.url, headers=dict(spec.headers), timeout=10.0, httpx_client_factory=factory
        ) as streams:
            yield streams
        return
    timeout = httpx2.Timeout(10.0, read=300.0)
    async with (
        factory(headers=dict(spec.headers), timeout=timeout) as http,
        streamable_http_client(spec.url, http_client=http) as streams,
    ):
        yield streams
