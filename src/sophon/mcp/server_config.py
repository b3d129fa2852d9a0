"""The Gateway's own MCP server configuration, kept in `<data>/config/mcp-server.json` (the
seed's shape: `enabled`, `transports`, `expose`): read on every use when the file changed, so an
edit is applied without a restart; an invalid file keeps the last good configuration and logs
one clear line."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit import service as audit
from sophon.audit.marks import audited
from sophon.mcp.schemas import ServerConfig
from sophon.platform.principal import Principal

log = logging.getLogger("sophon.mcp")
FILE = Path("config") / "mcp-server.json"


class ServerConfigFile:
    def __init__(self, data: Path) -> None:
        self.path = data / FILE
        self._stamp: tuple[float, int] | None = None
        self._config = ServerConfig()
        self.on_change: Callable[[ServerConfig, ServerConfig], None] | None = None
        """Told (before, after) when the configuration changes, by an edit or a PUT."""

    def _set(self, config: ServerConfig) -> None:
        before, self._config = self._config, config
        if self.on_change is not None and before != config:
            self.on_change(before, config)

    def current(self) -> ServerConfig:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._stamp = None
            self._set(ServerConfig())
            return self._config
        stamp = (stat.st_mtime, stat.st_size)
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._set(ServerConfig.model_validate(json.loads(self.path.read_text())))
            except (ValueError, ValidationError) as exc:
                first = str(exc).splitlines()[0]
                log.error(
                    "mcp: %s is invalid (%s); keeping the last good configuration", self.path, first
                )
        return self._config

    def write(self, config: ServerConfig) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(config.model_dump(mode="json", by_alias=True), indent=2))
        os.replace(temporary, self.path)
        self._stamp = None
        self._set(config)


@audited("mcp.server.config")
async def put(
    db: AsyncSession, principal: Principal, file: ServerConfigFile, config: ServerConfig
) -> ServerConfig:
    before = file.current().model_dump(mode="json", by_alias=True)
    await audit.record(
        db, principal, "mcp.server.config", ("mcp_server_config", None),
        details={"before": before, "after": config.model_dump(mode="json", by_alias=True)},
    )  # fmt: skip
    file.write(config)
    return file.current()
