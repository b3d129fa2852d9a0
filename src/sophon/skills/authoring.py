"""Self-authored skills: a model writes SKILL.md, the manifest and the code from a description;
the package goes through every install check, is stored as `Pending`, and becomes usable only
when a person approves it at High risk (the approval shows the code)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.approvals import actions
from sophon.approvals import service as approvals
from sophon.approvals.models import Approval
from sophon.audit import service as audit
from sophon.audit.marks import audited
from sophon.llm import ChatMessage, ChatRequest
from sophon.platform.clock import utcnow
from sophon.platform.errors import Conflict, DomainError, UpstreamUnavailable
from sophon.platform.principal import Principal
from sophon.platform.vault import Vault
from sophon.providers import routing
from sophon.providers.connect import ProviderRuntime
from sophon.settings import Settings
from sophon.skills import archive, installer
from sophon.skills.catalog import SkillCatalog, on_commit
from sophon.skills.installer import ACTIVE, PENDING
from sophon.skills.models import Skill, SkillVersion
from sophon.skills.schemas import AuthorIn

APPROVE_ACTION = "skill.approve"
PREVIEW_CODE_CHARS = 20_000
SYSTEM = """You write skills for an AI agent platform. A skill is a Python 3 program run in a
sandbox (standard library only, no network, no files outside its folder). It reads one JSON object
from stdin: {"tool": "<tool name>", "arguments": {...}, "credentials": {...}} and prints one JSON
object to stdout: {"content": "<text for the agent>", "isError": false}.

Answer with ONE JSON object and nothing else:
{"name": "<lowercase-dashed-name>",
 "description": "<one sentence: what it does and when to use it>",
 "instructions": "<Markdown for the agent: how and when to call the tools>",
 "tools": [{"name": "<family.action, lowercase>", "description": "...",
            "risk": "None|Low|Medium|High|Critical",
            "parameters": {<JSON Schema of an object>}}],
 "code": "<the complete main.py>"}"""


def _files(answer: Any, name: str | None) -> dict[str, bytes]:
    if not isinstance(answer, dict) or not isinstance(answer.get("code"), str):
        raise UpstreamUnavailable("The model did not answer with a skill (JSON with code).")
    skill_name = name or str(answer.get("name", ""))
    description = str(answer.get("description", "")).strip() or "An authored skill."
    manifest = {
        "name": skill_name,
        "version": "0.1.0",
        "description": description,
        "entrypoint": "main.py",
        "tools": answer.get("tools", []),
        "sandbox": {"network": "none"},
    }
    skill_md = (
        f"---\nname: {json.dumps(skill_name)}\ndescription: {json.dumps(description)}\n"
        f"version: 0.1.0\n---\n{answer.get('instructions', '')}\n"
    )
    return {
        "SKILL.md": skill_md.encode(),
        "manifest.json": json.dumps(manifest, indent=2).encode(),
        "main.py": answer["code"].encode(),
    }


async def ask_model(
    db: AsyncSession, vault: Vault, model_runtime: ProviderRuntime, body: AuthorIn
) -> Any:
    """The model's answer as JSON (None if it gave none). Providers are planned in the request's
    transaction, which is then ended: no database lock is held while the model writes (the
    documents' pattern, see `documents.modelwork`); later statements start a new transaction."""
    planned = await routing.plan(db, vault, None)
    await db.commit()
    wanted = f"\nUse the name {body.name!r}." if body.name else ""
    request = ChatRequest(
        model="",
        messages=[ChatMessage.system(SYSTEM), ChatMessage.user(body.description + wanted)],
        temperature=0.0,
        max_tokens=4096,
    )
    try:
        _, answer = await routing.complete_with(model_runtime, planned, request)
    except DomainError as error:
        raise UpstreamUnavailable(f"The model could not write the skill: {error.message}") from None
    if answer.model == routing.ECHO_MODEL:
        raise Conflict(
            "Authoring a skill needs a model provider; none is configured.",
            {"reason": "no_model_provider"},
        )
    text = answer.content or ""
    start = min((i for i in (text.find("{"),) if i >= 0), default=-1)
    try:
        value, _ = json.JSONDecoder().raw_decode(text[start:]) if start >= 0 else (None, 0)
    except ValueError:
        value = None
    return value


@audited("skill.install", "approval.requested")
async def author(
    db: AsyncSession,
    actor: Principal,
    catalog: SkillCatalog,
    settings: Settings,
    vault: Vault,
    model_runtime: ProviderRuntime,
    body: AuthorIn,
) -> SkillVersion:
    """Writes, checks and stores the skill as Pending, and asks for its approval."""
    answer = await ask_model(db, vault, model_runtime, body)
    files = _files(answer, body.name)
    package = installer.Package(
        archive.pack_zip(files), "authored", "model", None, allow_unsigned=True, pending=True
    )
    version = await installer.install(db, actor, catalog, settings, package)
    code = files["main.py"].decode()
    tools = ", ".join(f"{t['name']} ({t['risk']})" for t in version.manifest.get("tools", []))
    approval = await approvals.request_action(
        db,
        actor,
        action=APPROVE_ACTION,
        tool_name="skill.author",
        risk_level="High",
        arguments={"skill": version.skill_name, "version": version.version},
        preview=(
            f"Install the authored skill {version.skill_name} {version.version} "
            f"(tools: {tools or 'none'}). Its code:\n\n{code[:PREVIEW_CODE_CHARS]}"
        ),
    )
    version.approval_id = approval.id
    await db.flush()
    return version


def install_approval_handler(catalog: SkillCatalog) -> None:
    """Approving an authored skill makes its version active (this process's catalog)."""

    async def approved(db: AsyncSession, approval: Approval) -> None:
        name = str(approval.arguments.get("skill"))
        wanted = str(approval.arguments.get("version"))
        version = await db.scalar(
            select(SkillVersion).where(
                SkillVersion.skill_name == name, SkillVersion.version == wanted
            )
        )
        skill = await db.get(Skill, name, with_for_update=True)
        if version is None or skill is None or version.status != PENDING:
            return  # uninstalled (or decided) meanwhile
        manifest = catalog.manifest_of(name, wanted)
        clashing = catalog.collisions(manifest)
        if clashing:
            raise Conflict(f"Tool names already taken: {', '.join(clashing)}.")
        version.status = ACTIVE
        skill.active_version = wanted
        skill.updated_at = utcnow()
        await db.flush()
        on_commit(db, lambda: catalog.apply(name, manifest), name)
        await audit.record(
            db,
            {"userId": approval.decided_by, "email": None, "role": None,
             "tenantId": approval.tenant_id},
            "skill.approve",
            ("skill", name),
            details={"version": wanted, "approvalId": approval.id},
        )  # fmt: skip

    actions.register(APPROVE_ACTION, approved)
