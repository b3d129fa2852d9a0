"""Shaping skills for the wire, and reading an install request (multipart upload or JSON)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import ValidationError as PydanticValidationError
from starlette.datastructures import UploadFile

from sophon.platform.errors import PayloadTooLarge, ValidationFailed
from sophon.skills.schemas import (
    InstallIn,
    SkillCredentialOut,
    SkillDetailOut,
    SkillOut,
    SkillToolOut,
    SkillVersionOut,
)
from sophon.skills.service import SkillView
from sophon.tools.registry import RiskLevel

_TRUE = {"true", "1", "yes", "on"}


def tools_of(manifest: dict[str, Any]) -> list[SkillToolOut]:
    return [
        SkillToolOut(
            name=t["name"],
            description=t["description"],
            risk_level=RiskLevel(t["risk"]),
            parameters=t["parameters"],
        )
        for t in manifest.get("tools", [])
    ]


def _base(view: SkillView) -> dict[str, Any]:
    current = view.current
    return {
        "name": view.skill.name,
        "version": current.version,
        "description": current.description,
        "status": current.status,
        "source": current.source,
        "signature": current.signature,
        "signer": current.signer,
        "tools": tools_of(current.manifest),
        "enabled_agents": view.enabled_agents,
        "installed_at": view.skill.created_at,
        "updated_at": view.skill.updated_at,
    }


def skill_out(view: SkillView) -> SkillOut:
    return SkillOut(**_base(view))


def version_out(view: SkillView, row: Any) -> SkillVersionOut:
    return SkillVersionOut(
        version=row.version,
        status=row.status,
        active=row.version == view.skill.active_version,
        source=row.source,
        source_ref=row.source_ref,
        sha256=row.sha256,
        signature=row.signature,
        signer=row.signer,
        findings=row.findings,
        approval_id=row.approval_id,
        installed_by=row.installed_by,
        installed_at=row.created_at,
    )


def detail_out(view: SkillView, skill_md: str) -> SkillDetailOut:
    current = view.current
    declared = current.manifest.get("credentials", [])
    return SkillDetailOut(
        **_base(view),
        manifest=current.manifest,
        skill_md=skill_md,
        files=current.files,
        versions=[version_out(view, row) for row in view.versions],
        credentials=[
            SkillCredentialOut(
                name=c["name"],
                description=c.get("description", ""),
                configured=c["name"] in view.configured_credentials,
            )
            for c in declared
        ],
    )


async def read_install(request: Request, max_bytes: int) -> tuple[InstallIn, bytes | None]:
    """The install request: JSON (`url` or `name`), or multipart with a `file` part."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=2, max_fields=20)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ValidationFailed("Attach the archive as the `file` part.", {"path": "file"})
        data = await upload.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise PayloadTooLarge(f"The archive is larger than {max_bytes} bytes.")
        signature = form.get("signature")
        if isinstance(signature, UploadFile):
            signature = (await signature.read(16384)).decode("utf-8", errors="replace")
        fields = {
            "signature": signature or None,
            "allowUnsigned": str(form.get("allowUnsigned", "")).lower() in _TRUE,
            "allowFlagged": str(form.get("allowFlagged", "")).lower() in _TRUE,
        }
        return _model(fields), data
    try:
        body = await request.json()
    except ValueError:
        raise ValidationFailed("Send JSON (url or name) or a multipart upload.") from None
    parsed = _model(body)
    if (parsed.url is None) == (parsed.name is None):
        raise ValidationFailed("Give exactly one of url or name.", {"path": "url"})
    return parsed, None


def _model(fields: Any) -> InstallIn:
    try:
        return InstallIn.model_validate(fields)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"]) or "(body)"
        raise ValidationFailed(f"{path}: {first['msg']}", {"path": path}) from None
