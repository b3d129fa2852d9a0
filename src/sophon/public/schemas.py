from __future__ import annotations

from typing import Literal

from sophon.platform.schemas import ApiModel


class Health(ApiModel):
    status: Literal["ok"] = "ok"


class Version(ApiModel):
    version: str
    commit: str | None = None
    api_version: str
