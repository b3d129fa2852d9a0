"""Where an archive comes from besides an upload: an https URL (through the SSRF-guarded client,
size-limited) or a marketplace name looked up in the configured index (`SOPHON_SKILLS_INDEX`, a
JSON file or URL: `{"skills": [{name, version, url, sha256, signature}]}`). Plain http is
accepted only for hosts the operator allowed (`SOPHON_OUTBOUND_ALLOW`, e.g. an internal mirror)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from sophon.platform.errors import NotFound, PayloadTooLarge, UpstreamUnavailable, ValidationFailed
from sophon.platform.http import ResponseTooLarge, split_allow_setting
from sophon.settings import Settings
from sophon.skills.installer import Package
from sophon.skills.schemas import InstallIn
from sophon.tools.invoke import settings_client_factory

FETCH_SECONDS = 60.0
INDEX_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class IndexEntry:
    name: str
    version: str
    url: str
    sha256: str | None
    signature: str | None


def check_url(settings: Settings, url: str, field: str = "url") -> None:
    parts = urlsplit(url)
    allowed_http = parts.hostname is not None and any(
        entry.split(":")[0].strip("[]") == parts.hostname
        for entry in split_allow_setting(settings.outbound_allow)
    )
    if parts.scheme != "https" and not (parts.scheme == "http" and allowed_http):
        raise ValidationFailed("Skill archives are fetched over https only.", {"path": field})


async def fetch(settings: Settings, url: str, limit: int, field: str = "url") -> bytes:
    check_url(settings, url, field)
    client = settings_client_factory(settings)(
        max_response_bytes=limit, total_timeout=FETCH_SECONDS
    )
    try:
        async with client:
            response = await client.get(url)
    except ResponseTooLarge:
        raise PayloadTooLarge(f"The download is larger than {limit} bytes.") from None
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(f"The download failed: {exc}", {"url": url}) from None
    if response.status_code != 200:
        raise UpstreamUnavailable(
            f"The download failed with HTTP {response.status_code}.", {"url": url}
        )
    return response.content


async def lookup(settings: Settings, name: str, version: str | None) -> IndexEntry:
    """The index entry for a marketplace name (the newest listed version unless one is given)."""
    source = settings.skills_index
    if not source:
        raise NotFound("No marketplace index is configured (SOPHON_SKILLS_INDEX).")
    if source.startswith(("https://", "http://")):
        raw = await fetch(settings, source, INDEX_BYTES, "index")
    else:
        raw = await asyncio.to_thread(_read_index, Path(source))
    try:
        document: Any = json.loads(raw)
    except ValueError:
        raise UpstreamUnavailable("The marketplace index is not valid JSON.") from None
    items = document.get("skills", []) if isinstance(document, dict) else document
    entries = [_entry(item) for item in items if isinstance(item, dict)]
    matching = [e for e in entries if e is not None and e.name == name]
    if version is not None:
        matching = [e for e in matching if e.version == version]
    if not matching:
        raise NotFound(f"The marketplace lists no skill {name}.", {"name": name})
    return max(matching, key=lambda e: _semver_key(e.version))


def _read_index(path: Path) -> bytes:
    if not path.is_file():
        raise UpstreamUnavailable(f"The marketplace index {path} is missing.")
    return path.read_bytes()[:INDEX_BYTES]


def _entry(item: dict[str, Any]) -> IndexEntry | None:
    if not all(isinstance(item.get(k), str) for k in ("name", "version", "url")):
        return None
    signature = item.get("signature")
    if isinstance(signature, dict):
        signature = json.dumps(signature)
    return IndexEntry(
        name=item["name"],
        version=item["version"],
        url=item["url"],
        sha256=item.get("sha256") if isinstance(item.get("sha256"), str) else None,
        signature=signature if isinstance(signature, str) else None,
    )


def _semver_key(version: str) -> tuple[int, ...]:
    core = version.split("-", 1)[0].split("+", 1)[0]
    return tuple(int(p) if p.isdigit() else 0 for p in core.split("."))


async def package_for(settings: Settings, body: InstallIn, data: bytes | None) -> Package:
    """The archive an install request names: the upload, the URL's, or the marketplace's."""
    limit = settings.skills_max_archive_bytes
    flags: dict[str, Any] = {
        "allow_unsigned": body.allow_unsigned,
        "allow_flagged": body.allow_flagged,
    }
    signature = json.dumps(body.signature) if isinstance(body.signature, dict) else body.signature
    if data is not None:
        return Package(data, "upload", None, signature, **flags)
    if body.url is not None:
        return Package(await fetch(settings, body.url, limit), "url", body.url, signature, **flags)
    if body.name is None:
        raise ValidationFailed("Give exactly one of url or name.", {"path": "url"})
    entry = await lookup(settings, body.name, body.version)
    return Package(
        await fetch(settings, entry.url, limit),
        "marketplace",
        f"{entry.name}@{entry.version}",
        entry.signature,
        expected_sha256=entry.sha256,
        **flags,
    )
