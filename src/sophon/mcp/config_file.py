"""MCP servers declared in files, in the seed's shape
(`{"servers": {"github": {"transport": "stdio", "command": "npx", "args": [...], "env": {...}}}}`):
`<data>/config/mcp.json` for the default tenant, and `<data>/config/tenants/<slug>/mcp.json` for
the tenant with that slug. Each is read again whenever it changes (or appears, or goes), so an
edit is applied without a restart; an invalid file keeps its last good configuration and logs
one clear line. Values may be `{{vault:<name>}}` references to the tenant's connections, resolved
at connect time. Whoever can edit the data dir already runs commands on the host, so a file's
stdio server needs no approval."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pydantic import ValidationError

from sophon.connections.secrets import MissingSecret, SecretBook
from sophon.mcp.schemas import McpServerIn
from sophon.mcp.spec import ServerSpec, auth_headers
from sophon.platform.schemas import RequestModel
from sophon.platform.tenancy import DEFAULT_TENANT_SLUG

log = logging.getLogger("sophon.mcp")
FILE = Path("config") / "mcp.json"
TENANTS = Path("config") / "tenants"
ID_PREFIX = "file:"


class FileServer(McpServerIn):
    """A file entry: the registration's fields, the name coming from the key."""

    name: str = "x"


class McpFile(RequestModel):
    servers: dict[str, FileServer] = {}


class ClientConfigFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[float, int] | None = None
        self._servers: dict[str, McpServerIn] = {}

    @property
    def stamped(self) -> bool:
        return self._stamp is not None

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


class ClientConfigFiles:
    """The default tenant's file and every `config/tenants/<slug>/mcp.json`, by slug."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self._files: dict[Path, ClientConfigFile] = {}

    def _paths(self) -> list[tuple[str, Path]]:
        found = [(DEFAULT_TENANT_SLUG, self.data / FILE)]
        root = self.data / TENANTS
        if root.is_dir():
            found += [(p.parent.name, p) for p in sorted(root.glob("*/mcp.json"))]
        return found

    def _file(self, path: Path) -> ClientConfigFile:
        if path not in self._files:
            self._files[path] = ClientConfigFile(path)
        return self._files[path]

    def changed(self) -> bool:
        paths = {path for _, path in self._paths() if path.exists()}
        known = {path for path, file in self._files.items() if file.stamped}
        return paths != known or any(self._file(path).changed() for path in paths)

    def current(self) -> dict[str, dict[str, McpServerIn]]:
        """Slug -> server name -> entry; a name declared twice for one tenant keeps the first."""
        wanted: dict[str, dict[str, McpServerIn]] = {}
        seen = set()
        for slug, path in self._paths():
            seen.add(path)
            entries = wanted.setdefault(slug, {})
            for name, entry in self._file(path).current().items():
                if name in entries:
                    log.error("mcp: %s in %s is declared twice; skipped", name, path)
                else:
                    entries[name] = entry
        for path in [p for p in self._files if p not in seen]:
            self._files.pop(path).current()  # a removed tenant file: its servers go
        return {slug: entries for slug, entries in wanted.items() if entries}


def file_id(slug: str, name: str) -> str:
    """`file:<name>` for the default tenant (as before per-tenant files), else
    `file:<slug>:<name>`."""
    return f"{ID_PREFIX}{name}" if slug == DEFAULT_TENANT_SLUG else f"{ID_PREFIX}{slug}:{name}"


def file_spec(entry: McpServerIn, tenant_id: str, book: SecretBook, spec_id: str) -> ServerSpec:
    auth = entry.auth.model_dump(exclude_none=True) if entry.auth is not None else {}
    auth_type = str(auth.pop("type", "none"))
    problem = None
    try:
        env = book.resolve_all(entry.env)
        auth = book.resolve_all(auth)
    except MissingSecret as missing:
        env, auth, problem = {}, {}, f"{missing}; create it under Connections"
    return ServerSpec(
        id=spec_id,
        tenant_id=tenant_id,
        name=entry.name,
        transport=entry.transport,
        command=entry.command,
        args=tuple(entry.args),
        env=env,
        url=entry.url,
        headers=auth_headers(auth_type, auth),
        problem=problem,
        excluded=frozenset(entry.excluded_tools),
        risk_overrides={k: v.value for k, v in entry.risk_overrides.items()},
        timeout_seconds=float(entry.timeout_seconds),
        enabled=entry.enabled,
    )
