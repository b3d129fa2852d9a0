"""What the cron domain needs from the process, handed over by the composition root once; the
workflow launcher is a protocol so that cron imports no workflows package."""

from __future__ import annotations

from dataclasses import dataclass

from sophon.platform.launcher import WorkflowLauncher
from sophon.platform.netguard import Resolver, system_resolver
from sophon.platform.vault import Vault
from sophon.settings import Settings
from sophon.tools.registry import ToolRegistry


@dataclass
class CronContext:
    settings: Settings
    tools: ToolRegistry
    vault: Vault
    workflows: WorkflowLauncher | None = None
    resolver: Resolver = system_resolver
    """Turns webhook host names into addresses (tests replace it)."""
