"""The system prompt of a turn: the agent's persona files (SOUL.md every turn, BOOT.md on a
session's first turn, TOOLS.md, AGENTS.md; HEARTBEAT.md on heartbeat runs), what other parts
contribute (memory, daily logs), the plan, and the rule for external content."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sophon.agents.files import FileKind
from sophon.runtime.external import RULE

HEARTBEAT_OK = "HEARTBEAT_OK"

_SECTIONS = (
    (FileKind.SOUL, "Your persona (SOUL.md)"),
    (FileKind.BOOT, "First-run setup (BOOT.md)"),
    (FileKind.TOOLS_GUIDE, "How to use your tools (TOOLS.md)"),
    (FileKind.AGENTS_GUIDE, "Working with other agents (AGENTS.md)"),
    (FileKind.HEARTBEAT, "Heartbeat checklist (HEARTBEAT.md)"),
)


def system_prompt(
    agent_name: str,
    now: datetime,
    files: Mapping[FileKind, str],
    *,
    extras: Mapping[str, str] | None = None,
    plan: Mapping[str, Any] | None = None,
    heartbeat: bool = False,
) -> str:
    parts = [
        f"You are {agent_name}, an agent hosted on a Sophon Gateway. "
        f"The time is {now.strftime('%Y-%m-%d %H:%M')} UTC.",
        RULE,
    ]
    for kind, title in _SECTIONS:
        text = files.get(kind, "").strip()
        if text:
            parts.append(f"## {title}\n{text}")
    for title, text in (extras or {}).items():
        if text.strip():
            parts.append(f"## {title}\n{text.strip()}")
    if plan:
        steps = "\n".join(
            f"{n}. {step.get('description', '')}" for n, step in enumerate(plan["steps"], 1)
        )
        parts.append(f"## The plan for this request (approved)\nGoal: {plan['goal']}\n{steps}")
    if heartbeat:
        parts.append(
            "## Heartbeat run\nWork through the checklist. If nothing needs doing or reporting, "
            f"reply with exactly {HEARTBEAT_OK} and nothing else."
        )
    return "\n\n".join(parts)
