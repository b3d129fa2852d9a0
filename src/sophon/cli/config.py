"""The CLI's own settings: `<data dir>/config/cli.json` (data dir: `SOPHON_DATA` or `~/.sophon`).

A missing or unreadable file means defaults. The file holds the auth token, so it is written
atomically with mode 0600 (its directory 0700 when the CLI creates it)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sophon.cli.core import FORMATS
from sophon.cli.errors import EXIT_USAGE, CliError, fail

DEFAULT_GATEWAY = "http://localhost:8080"


def data_dir() -> Path:
    return Path(os.environ.get("SOPHON_DATA") or Path.home() / ".sophon")


def config_path() -> Path:
    return data_dir() / "config" / "cli.json"


def _text(value: str) -> str:
    return value


def _url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        fail(f"{value!r} is not an http:// or https:// URL", EXIT_USAGE)
    return value.rstrip("/")


def _flag(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"true", "1", "yes", "on"}:
        return True
    if lowered in {"false", "0", "no", "off"}:
        return False
    raise CliError(f"{value!r} is not true or false", EXIT_USAGE)


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in allowed:
            fail(f"{value!r} is not one of {', '.join(allowed)}", EXIT_USAGE)
        return value

    return parse


@dataclass(frozen=True)
class Key:
    parse: Callable[[str], Any]
    default: Any
    secret: bool = False
    help: str = ""


KEYS: dict[str, Key] = {
    "gatewayUrl": Key(_url, DEFAULT_GATEWAY, help="Gateway base URL."),
    "authToken": Key(_text, None, secret=True, help="JWT from `sophon login`, or an sk_ token."),
    "authExpiresAt": Key(_text, None, help="When a login JWT expires (set by `sophon login`)."),
    "defaultAgent": Key(_text, "default", help="Agent for `sophon chat` when none is given."),
    "defaultFormat": Key(_choice(*FORMATS), "table", help="Output format."),
    "theme": Key(_choice("dark", "light"), "dark", help="Colour theme."),
    "v2": Key(_flag, True, help="The newer REPL layout."),
    "pinnedInput": Key(_flag, True, help="Keep the REPL input line pinned."),
    "defaultThinking": Key(_choice("auto", "off", "fast", "full"), "auto", help="Thinking mode."),
    "greeting": Key(_text, None, help="REPL greeting."),
    "tokensFooter": Key(_flag, False, help="Show token counts after each reply."),
}


class CliConfig:
    """The stored values over the defaults; only stored values are written back."""

    def __init__(self, path: Path, stored: dict[str, Any]) -> None:
        self.path = path
        self.stored = stored

    @classmethod
    def load(cls, path: Path | None = None) -> CliConfig:
        path = path or config_path()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raw = {}
        stored = {k: v for k, v in raw.items() if k in KEYS} if isinstance(raw, dict) else {}
        return cls(path, stored)

    def get(self, key: str) -> Any:
        return self.stored.get(key, KEYS[key].default)

    def effective(self) -> dict[str, Any]:
        return {key: self.get(key) for key in KEYS}

    def set(self, key: str, value: Any) -> None:
        self.stored[key] = value

    def unset(self, *keys: str) -> None:
        for key in keys:
            self.stored.pop(key, None)

    def save(self) -> None:
        directory = self.path.parent
        if not directory.exists():
            directory.mkdir(parents=True, mode=0o700)
        body = json.dumps(self.stored, indent=2, sort_keys=True) + "\n"
        fd, temp = tempfile.mkstemp(prefix=".cli-", suffix=".json", dir=directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(body)
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise


def parse_value(key: str, value: str) -> Any:
    if key not in KEYS:
        fail(f"unknown config key {key!r}; known: {', '.join(KEYS)}", EXIT_USAGE)
    return KEYS[key].parse(value)


def masked(key: str, value: Any) -> Any:
    if KEYS[key].secret and isinstance(value, str) and value:
        return value[:6] + "…" if len(value) > 12 else "…"
    return value
