"""`<data>/config/mcp.json`: MCP servers declared in a file, in the seed's shape
(`{"servers": {"github": {"transport": "stdio", "command": "npx", "args": [...], "env": {...}}}}`),
for the default tenant. Read again whenever the file changes, so an edit is applied without a
restart; an invalid file keeps the last good configuration and logs one clear line. Whoever can
edit the data dir already runs commands on the host, so a file's stdio server needs no approval."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pydantic import ValidationError

from sophon.mcp.schemas import McpServerIn
from sophon.mcp.spec import ServerSpec, auth_headers
from sophon.platform.schemas import RequestModel

log = logging.getLogger("sophon.mcp")
FILE = Path("config") / "mcp.json"
ID_PREFIX = "file:"


class FileServer(McpServerIn):
    """A file entry: the registration's fields, the name coming from the key."""

    name: str = "x"


class McpFile(RequestModel):
    servers: dict[str, FileServer] = {}


class ClientConfigFile:
    def __init__(self, data: Path) -> None:
        self.path = data / FILE
        self._stamp: tuple[float, int] | None = None
        self._servers: dict[str, McpServerIn] = {}

    def changed(self) -> bool:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return self._stamp is not None
        return (stat.st_mtime, stat.st_size) != self._stamp

    def current(self) -> dict[str, McpServerIn]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._servers = None, {}
            return self._servers
        stamp = (stat.st_mtime, stat.st_size)
        if stamp == self._stamp:
            return self._servers
        self._stamp = stamp
        try:
            parsed = McpFile.model_validate(json.loads(self.path.read_text()))
            servers = {
                name: McpServerIn.model_validate({**entry.model_dump(), "name": name})
                for name, entry in parsed.servers.items()
            }
            for name, server in servers.items():
                _check(name, server)
        except (ValueError, ValidationError) as exc:
            first = str(exc).splitlines()[0]
            log.error(
                "mcp: %s is invalid (%s); keeping the last good configuration", self.path, first
            )
            return self._servers
        self._servers = servers
        return servers


def _check(name: str, server: McpServerIn) -> None:
    if server.transport == "stdio" and not server.command:
        raise ValueError(f"servers.{name}: a stdio server needs a command")
    if server.transport != "stdio" and not (server.url or "").startswith(("http://", "https://")):
        raise ValueError(f"servers.{name}: a {server.transport} server needs an http(s) url")


def file_spec(entry: McpServerIn, tenant_id: str) -> ServerSpec:
    auth = entry.auth.model_dump(exclude_none=True) if entry.auth is not None else {}
    return ServerSpec(
        id=f"{ID_PREFIX}{entry.name}",
        tenant_id=tenant_id,
        name=entry.name,
        transport=entry.transport,
        command=entry.command,
        args=tuple(entry.args),
        env=dict(entry.env),
        url=entry.url,
        headers=auth_headers(str(auth.pop("type", "none")), auth),
        excluded=frozenset(entry.excluded_tools),
        risk_overrides={k: v.value for k, v in entry.risk_overrides.items()},
        timeout_seconds=float(entry.timeout_seconds),
        enabled=entry.enabled,
    )
