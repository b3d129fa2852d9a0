"""`/api/skills`: installed skills (code Gateway-wide), per-agent enablement (per tenant),
versions, credentials, and the manifest's JSON Schema."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response, status

from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.gateway import Gateway
from sophon.identity.guard import PrincipalDep, requires
from sophon.platform.access import api_router, public
from sophon.platform.pagination import Page
from sophon.platform.permissions import Permission as P
from sophon.platform.schemas import error_responses
from sophon.skills import authoring, installer, service, sources
from sophon.skills.manifest import MANIFEST_SCHEMA
from sophon.skills.models import Skill
from sophon.skills.schemas import (
    AuthorIn,
    CredentialIn,
    EnableIn,
    InstallIn,
    SkillDetailOut,
    SkillOut,
)
from sophon.skills.views import detail_out, read_install, skill_out

router = api_router("/skills", tags=["Skills"])
manage_skills = requires(P.MANAGE_SKILLS)

ONE = error_responses(404)
INSTALL = error_responses(400, 404, 409, 413, 502)
_INSTALL_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": InstallIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "signature": {"type": "string"},
                        "allowUnsigned": {"type": "boolean"},
                        "allowFlagged": {"type": "boolean"},
                    },
                }
            },
        },
    }
}


@router.get("", operation_id="listSkills")
@manage_skills
async def list_skills(db: DbDep, gateway: GatewayDep, page: PageDep) -> Page[SkillOut]:
    """Installed skills with their active version, source, signature status, tools and the
    agents of this tenant they are enabled for."""
    rows, cursor, more = await gateway.paginator.page(
        db, service.listing(), [Skill.name], page, scope="skills", descending=False
    )
    views = await service.views(db, rows)
    return Page[SkillOut](items=[skill_out(v) for v in views], next_cursor=cursor, has_more=more)


@router.get("/manifest-schema", operation_id="getSkillManifestSchema")
@public
async def manifest_schema() -> dict[str, Any]:
    """The JSON Schema of a skill's manifest.json."""
    return MANIFEST_SCHEMA


@router.post(
    "/install",
    operation_id="installSkill",
    status_code=status.HTTP_201_CREATED,
    responses=INSTALL,
    openapi_extra=_INSTALL_BODY,
)
@manage_skills
async def install_skill(
    request: Request, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> SkillDetailOut:
    """Installs a skill from an uploaded archive (multipart `file`), an https `url`, or a
    marketplace `name`; unsigned or unknown-signer packages need `allowUnsigned`."""
    settings = gateway.settings
    body, data = await read_install(request, settings.skills_max_archive_bytes)
    package = await sources.package_for(settings, body, data)
    version = await installer.install(db, principal, gateway.skills, settings, package)
    return await _detail(db, gateway, version.skill_name)


@router.post(
    "/author",
    operation_id="authorSkill",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409, 502),
)
@manage_skills
async def author_skill(
    body: AuthorIn, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> SkillDetailOut:
    """A model writes the skill (SKILL.md, manifest, code); it is installed as Pending and
    becomes usable once a High-risk approval (showing the code) is approved."""
    version = await authoring.author(
        db, principal, gateway.skills, gateway.settings, gateway.vault, gateway.model_runtime, body
    )
    return await _detail(db, gateway, version.skill_name)


@router.get("/{name}", operation_id="getSkill", responses=ONE)
@manage_skills
async def get_skill(name: str, db: DbDep, gateway: GatewayDep) -> SkillDetailOut:
    """A skill: manifest, SKILL.md, files, versions and credentials."""
    return await _detail(db, gateway, name)


@router.delete(
    "/{name}", operation_id="uninstallSkill", status_code=status.HTTP_204_NO_CONTENT, responses=ONE
)
@manage_skills
async def uninstall_skill(
    name: str, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> Response:
    """Uninstalls the skill: every agent loses its tools; its files are deleted."""
    await service.uninstall(db, principal, gateway.skills, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{name}/enable", operation_id="enableSkill", responses=ONE)
@manage_skills
async def enable_skill(
    name: str, body: EnableIn, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> SkillOut:
    """Enables the skill for an agent: its tools and `skill.read` join the allowlist."""
    return skill_out(await service.enable(db, principal, gateway.skills, name, body.agent_id))


@router.delete("/{name}/enable", operation_id="disableSkill", responses=ONE)
@manage_skills
async def disable_skill(
    name: str, body: EnableIn, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> SkillOut:
    """Disables the skill for an agent: its tools leave the allowlist."""
    return skill_out(await service.disable(db, principal, gateway.skills, name, body.agent_id))


@router.post(
    "/{name}/versions/{version}/activate",
    operation_id="activateSkillVersion",
    responses=error_responses(404, 409),
)
@manage_skills
async def activate_version(
    name: str, version: str, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> SkillDetailOut:
    """Makes an installed version the active one (roll back or forward)."""
    await service.activate(db, principal, gateway.skills, name, version)
    return await _detail(db, gateway, name)


@router.put(
    "/{name}/credentials/{credential}",
    operation_id="setSkillCredential",
    responses=error_responses(404),
)
@manage_skills
async def set_credential(
    name: str,
    credential: str,
    body: CredentialIn,
    db: DbDep,
    gateway: GatewayDep,
    principal: PrincipalDep,
) -> SkillOut:
    """Stores (encrypted, for this tenant) a credential the skill's manifest declares."""
    view = await service.set_credential(
        db, principal, gateway.vault, gateway.skills, name, credential, body.value
    )
    return skill_out(view)


@router.delete(
    "/{name}/credentials/{credential}",
    operation_id="deleteSkillCredential",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=ONE,
)
@manage_skills
async def delete_credential(
    name: str, credential: str, db: DbDep, principal: PrincipalDep
) -> Response:
    """Deletes a stored credential of the skill."""
    await service.delete_credential(db, principal, name, credential)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _detail(db: DbDep, gateway: Gateway, name: str) -> SkillDetailOut:
    view, skill_md = await service.detail(db, gateway.skills, name)
    return detail_out(view, skill_md)
