"""Skills in the agent loop: the prompt lists the agent's enabled skills by name and description
only; the agent reads a skill's full SKILL.md with `skill.read` when it needs it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.platform.memo import Memo
from sophon.runtime import hooks
from sophon.skills.models import Skill, SkillEnablement, SkillVersion

TITLE = "Skills you can use"


_ENABLED: Memo[tuple[tuple[str, str], ...]] = Memo(
    {"skills", "skill_versions", "skill_enablements"}
)
"""Per (tenant, agent): its enabled skills' names and descriptions, until a skill changes."""


async def skills_section(db: AsyncSession, turn: hooks.TurnInfo) -> tuple[str, str] | None:
    async def load() -> tuple[tuple[str, str], ...]:
        rows = await db.execute(
            select(SkillVersion.skill_name, SkillVersion.description)
            .join(Skill, Skill.name == SkillVersion.skill_name)
            .join(SkillEnablement, SkillEnablement.skill_name == Skill.name)
            .where(
                SkillEnablement.agent_id == turn.agent_id,
                SkillVersion.version == Skill.active_version,
            )
            .order_by(SkillVersion.skill_name)
        )
        return tuple((name, description) for name, description in rows.all())

    rows = await _ENABLED.get(db, (turn.tenant_id, turn.agent_id), load)
    if not rows:
        return None
    lines = [f"- {name}: {description}" for name, description in rows]
    lines.append(
        "Before using a skill, read its instructions with the skill.read tool "
        '({"name": "<skill>"}).'
    )
    return TITLE, "\n".join(lines)


def install() -> None:
    """Registers the skills' context hook (once per process)."""
    if skills_section not in hooks.context_hooks:
        hooks.context_hooks.append(skills_section)
