"""The checks of `sophon doctor`. Local ones look at this machine's data dir, database, sandbox and
Redis (the Gateway's own settings); remote ones ask the Gateway over its public API."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sophon.cli.client import Api, ApiError, Unreachable
from sophon.cli.config import config_path

if TYPE_CHECKING:
    from sophon.settings import Settings

Status = Literal["ok", "warn", "fail", "skip"]


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def settings_check() -> tuple[Check, Settings | None]:
    from sophon.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        return Check("settings", "fail", str(exc), "fix the SOPHON_* variable it names"), None
    return Check("settings", "ok", f"tier {settings.tier.value}"), settings


def data_dir_check(data: Path) -> Check:
    if not data.exists():
        return Check("data dir", "warn", f"{data} does not exist yet", "`sophon serve` creates it")
    if not data.is_dir():
        return Check("data dir", "fail", f"{data} is not a directory", "move the file away")
    if not os.access(data, os.W_OK | os.X_OK):
        return Check("data dir", "fail", f"{data} is not writable", f"chown/chmod {data}")
    return Check("data dir", "ok", str(data))


def config_file_check() -> Check:
    path = config_path()
    if not path.exists():
        return Check("cli config", "ok", f"{path} (not written yet: defaults)")
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return Check("cli config", "warn", f"{path} is unreadable ({exc}); defaults apply",
                     f"rm {path}, then `sophon config set …`")  # fmt: skip
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return Check("cli config", "fail", f"{path} has mode {mode:o}: others can read the token",
                     f"chmod 600 {path}")  # fmt: skip
    return Check("cli config", "ok", str(path))


def database_checks(settings: Settings) -> list[Check]:
    """Reachable, and at the newest migration. A missing SQLite file is reported, not created."""
    from sophon.platform.migrate import newest_revision

    url = settings.db_url
    if settings.is_sqlite:
        path = Path(url.split("///", 1)[1])
        if not path.exists():
            fix = "`sophon serve` or `sophon db upgrade` creates it"
            return [Check("database", "warn", f"{path} does not exist yet", fix)]
    try:
        current = asyncio.run(_revision(url))
    except Exception as exc:  # noqa: BLE001 — any driver failure is the finding itself
        from sqlalchemy.engine import make_url

        where = make_url(url).render_as_string(hide_password=True)
        detail = f"cannot open {where}: {' '.join(str(exc).split())[:300]}"
        return [Check("database", "fail", detail, "check SOPHON_DATABASE_URL and the server")]
    head = newest_revision()
    checks = [Check("database", "ok", settings.db_url.split(":", 1)[0])]
    if current == head:
        checks.append(Check("migrations", "ok", f"at {head}"))
    else:
        checks.append(Check("migrations", "fail", f"at {current or 'none'}, newest is {head}",
                            "run `sophon db upgrade`"))  # fmt: skip
    return checks


async def _revision(url: str) -> str | None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from sophon.platform.db import create_engine

    engine = create_engine(url, pool=False)
    try:
        async with engine.connect() as conn:
            try:
                value = await conn.scalar(text("SELECT version_num FROM alembic_version"))
            except DBAPIError:
                return None
            return str(value) if value is not None else None
    finally:
        await engine.dispose()


def sandbox_check() -> Check:
    from sophon.runtime.sandbox.status import sandbox_status

    status = sandbox_status()
    if status.available:
        return Check("sandbox", "ok", status.reason)
    fix = (
        "apt-get install bubblewrap"
        if "not installed" in status.reason
        else ("allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)")
    )
    return Check("sandbox", "warn", f"{status.reason}; sandboxed tools are refused", fix)


def ocr_check() -> Check:
    """Scanned PDFs and images need the `tesseract` binary; without it they have no text."""
    found = shutil.which("tesseract")
    if found:
        return Check("ocr", "ok", f"tesseract at {found}: scanned pages and images are read")
    return Check(
        "ocr",
        "warn",
        "tesseract is not installed: scanned PDF pages and images have no text layer",
        "apt-get install tesseract-ocr (other languages: tesseract-ocr-<lang>)",
    )


def redis_check(settings: Settings) -> Check:
    if not settings.redis_url:
        return Check("redis", "skip", "not configured (single replica: in-process bus)")
    import redis

    client = redis.Redis.from_url(settings.redis_url, socket_timeout=3, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        return Check("redis", "fail", f"cannot reach Redis: {exc}", "check SOPHON_REDIS_URL")
    finally:
        client.close()
    return Check("redis", "ok", "answers PING")


def gateway_checks(api: Api, cli_version: str) -> list[Check]:
    try:
        api.get("/api/health")
    except (Unreachable, ApiError) as exc:
        fix = "start it with `sophon serve`, or point the CLI elsewhere with --gateway-url"
        return [Check("gateway", "fail", exc.message, fix)]
    version = _quiet(lambda: api.get("/api/version")) or {}
    served = version.get("version", "?")
    checks = [Check("gateway", "ok", f"{api.base_url} (version {served})")]
    if served != cli_version:
        checks.append(Check("version", "warn", f"CLI {cli_version}, Gateway {served}",
                            "upgrade the older side"))  # fmt: skip
    try:
        me = api.get("/api/auth/me")
    except ApiError as exc:
        checks.append(Check("sign-in", "fail", exc.message, "run `sophon login`"))
        return checks
    checks.append(Check("sign-in", "ok", f"{me['user']['email']} ({me.get('authMethod')})"))
    checks.append(_providers_check(api))
    return checks


def _providers_check(api: Api) -> Check:
    try:
        providers = [
            p for page in api.pages("/api/models/providers", limit=200) for p in page.items
        ]
    except ApiError as exc:
        if exc.status == 403:
            return Check("providers", "skip", "needs the models.manage permission")
        raise
    broken = [p for p in providers if p.get("status") == "Error"]
    if broken:
        names = "; ".join(f"{p['name']}: {p.get('lastError') or 'failed its test'}" for p in broken)
        return Check("providers", "fail", names,
                     "fix the key or URL, then `sophon models providers test NAME`")  # fmt: skip
    if not providers:
        return Check("providers", "warn", "none: chat answers with the offline echo model",
                     "`sophon models providers add …`")  # fmt: skip
    return Check("providers", "ok", ", ".join(p["name"] for p in providers))


def _quiet(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except (ApiError, Unreachable):
        return None
