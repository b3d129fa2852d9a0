"""Wire models of the tool catalog."""

from __future__ import annotations

from typing import Any

from sophon.platform.schemas import ApiModel
from sophon.tools.registry import RiskLevel, ToolSource


class ToolOut(ApiModel):
    name: str
    description: str
    parameters: dict[str, Any]
    """JSON Schema of the tool's arguments."""
    risk_level: RiskLevel
    source: ToolSource
    editable_at_approval: bool
    available: bool
    unavailable_reason: str | None
