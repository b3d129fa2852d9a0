"""One invocation's resolved settings: flags over env over `cli.json`, the output and the API
client. Commands get it with `runtime()`."""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime, timedelta

from typer._click.globals import get_current_context

from sophon.cli.client import Api, ApiError, Unreachable
from sophon.cli.config import CliConfig
from sophon.cli.core import FORMATS, Format, Globals, globals_of
from sophon.cli.errors import EXIT_USAGE, fail
from sophon.cli.output import Output

_REFRESH_WITHIN = timedelta(minutes=15)


class Runtime:
    def __init__(self, flags: Globals) -> None:
        self.flags = flags
        self.config = CliConfig.load()
        self.format = self._format()
        flags.format_in_use = self.format
        self.color = not flags.no_color and not os.environ.get("NO_COLOR")
        self.out = Output(self.format, self.color)
        self._api: Api | None = None

    def _format(self) -> Format:
        chosen = (self.flags.format or os.environ.get("SOPHON_FORMAT") or "").strip().lower()
        if not chosen:  # a hand-edited file with a bad value must not lock the user out
            stored = self.config.get("defaultFormat")
            return stored if stored in FORMATS else "table"
        if chosen not in FORMATS:
            fail(f"unknown output format {chosen!r}; use table, json or csv", EXIT_USAGE)
        return chosen

    @property
    def gateway_url(self) -> str:
        chosen = self.flags.gateway_url or os.environ.get("SOPHON_GATEWAY")
        url = (chosen or str(self.config.get("gatewayUrl"))).rstrip("/")
        if not url.startswith(("http://", "https://")):
            fail(f"the Gateway URL {url!r} must start with http:// or https://", EXIT_USAGE)
        return url

    @property
    def gateway_given(self) -> bool:
        """True when the URL came from a flag or env rather than the config file."""
        return bool(self.flags.gateway_url or os.environ.get("SOPHON_GATEWAY"))

    @property
    def api(self) -> Api:
        if self._api is None:
            self._api = Api(self.gateway_url, self.config.get("authToken"))
            self._refresh_if_due(self._api)
        return self._api

    def close(self) -> None:
        if self._api is not None:
            self._api.close()

    def save_login(self, token: str, expires_at: str | None) -> None:
        self.config.set("authToken", token)
        if expires_at:
            self.config.set("authExpiresAt", expires_at)
        else:
            self.config.unset("authExpiresAt")
        if self.gateway_given:
            self.config.set("gatewayUrl", self.gateway_url)
        self.config.save()
        if self._api is not None:
            self._api.token = token

    def forget_login(self) -> None:
        self.config.unset("authToken", "authExpiresAt")
        self.config.save()

    def _refresh_if_due(self, api: Api) -> None:
        """Renews a login JWT that expires soon, so a user who keeps working stays signed in."""
        token, expires = self.config.get("authToken"), self.config.get("authExpiresAt")
        if not token or not expires or str(token).startswith("sk_"):
            return
        if self.gateway_url != self.config.get("gatewayUrl"):
            return  # the token was issued by the configured Gateway, not this one
        try:
            when = datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
        except ValueError:
            return
        left = when - datetime.now(UTC)
        if left <= timedelta(0) or left > _REFRESH_WITHIN:
            return
        with contextlib.suppress(ApiError, Unreachable):
            renewed = api.post("/api/auth/refresh")
            self.save_login(renewed["accessToken"], renewed.get("expiresAt"))


def runtime() -> Runtime:
    """The current invocation's Runtime, made on first use and closed with the root context."""
    ctx = get_current_context()
    root = ctx.find_root()
    found = root.meta.get("sophon.runtime")
    if isinstance(found, Runtime):
        return found
    made = Runtime(globals_of(ctx))
    root.meta["sophon.runtime"] = made
    root.call_on_close(made.close)
    return made
