"""Tables of the skills domain. Skill code is Gateway-wide (`skills`, `skill_versions`; the files
live under `<data>/skills/<name>/<version>/`); enabling a skill for an agent and the credentials
a skill is given belong to one tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sophon.platform.clock import utcnow
from sophon.platform.db import Base, id_column
from sophon.platform.tenancy import TenantScoped


class Skill(Base):
    """An installed skill; `active_version` is the version agents use (None: none usable yet,
    e.g. an authored skill waiting for its approval)."""

    __tablename__ = "skills"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    active_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SkillVersion(Base):
    """One installed version of a skill, as it was verified and stored."""

    __tablename__ = "skill_versions"
    __table_args__ = (Index("uq_skill_versions_version", "skill_name", "version", unique=True),)

    id: Mapped[str] = id_column()
    skill_name: Mapped[str] = mapped_column(ForeignKey("skills.name", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)  # install order within the skill
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20))  # Active | Pending | Rejected
    source: Mapped[str] = mapped_column(String(20))  # bundled/upload/url/marketplace/authored
    source_ref: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(20))  # signed | unsigned | bundled
    signer: Mapped[str | None] = mapped_column(String(100))
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    files: Mapped[list[str]] = mapped_column(JSON, default=list)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    approval_id: Mapped[str | None] = mapped_column(String(40))
    installed_by: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SkillEnablement(Base, TenantScoped):
    """The skill is enabled for this agent of the tenant."""

    __tablename__ = "skill_enablements"
    __table_args__ = (
        Index("uq_skill_enablements", "tenant_id", "skill_name", "agent_id", unique=True),
        Index("ix_skill_enablements_agent", "tenant_id", "agent_id"),
    )

    id: Mapped[str] = id_column()
    skill_name: Mapped[str] = mapped_column(ForeignKey("skills.name", ondelete="CASCADE"))
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SkillCredential(Base, TenantScoped):
    """A credential the tenant gives a skill (named in its manifest), encrypted with the vault."""

    __tablename__ = "skill_credentials"
    __table_args__ = (
        Index("uq_skill_credentials", "tenant_id", "skill_name", "name", unique=True),
    )

    id: Mapped[str] = id_column()
    skill_name: Mapped[str] = mapped_column(ForeignKey("skills.name", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    secret: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
