"""Tenant isolation in the data layer. Every tenant-owned table mixes in `TenantScoped`; every ORM
SELECT/UPDATE/DELETE in a session is filtered to the session's tenant, and every new row is
stamped with it, without services writing the predicate. A session with no tenant sees no
tenant-owned rows (fail closed); reaching across tenants needs the explicit `ALL_TENANTS` option."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import ForeignKey, String, event, or_
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.orm.util import LoaderCriteriaOption

TENANT_KEY = "tenant_id"
ALL_TENANTS = {"all_tenants": True}  # execution option: this statement crosses tenants on purpose
DEFAULT_TENANT_SLUG = "default"
TENANT_HEADER = "x-sophon-tenant"
TENANT_SLUG_KEY = "sophon.tenant_slug"  # scope entry: the /api/tenants/{slug} prefix (see Edge)
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"


class TenantScoped:
    @declared_attr
    def tenant_id(cls) -> Mapped[str]:
        return mapped_column(
            String(40), ForeignKey("tenants.id", ondelete="CASCADE"), index=True, nullable=False
        )


class TenantOrShared:
    """Rows of one tenant plus shared rows (NULL tenant, e.g. the built-in roles) that every
    tenant may read. New rows made in a tenant's session belong to that tenant."""

    @declared_attr
    def tenant_id(cls) -> Mapped[str | None]:
        return mapped_column(
            String(40), ForeignKey("tenants.id", ondelete="CASCADE"), index=True, nullable=True
        )


class CrossTenantWrite(RuntimeError):
    """A row of one tenant was about to be written in another tenant's session: a bug."""


def set_session_tenant(session: Session, tenant_id: str | None) -> None:
    session.info[TENANT_KEY] = tenant_id


def session_tenant(session: Session) -> str | None:
    return session.info.get(TENANT_KEY)


@contextmanager
def acting_in(session: Session, tenant_id: str) -> Iterator[None]:
    """Points the session at another tenant for a few statements (e.g. starting a new tenant's
    audit chain, or auditing a login before the request has a tenant)."""
    previous = session_tenant(session)
    set_session_tenant(session, tenant_id)
    try:
        yield
    finally:
        set_session_tenant(session, previous)


@event.listens_for(Session, "do_orm_execute")
def _filter_by_tenant(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get("all_tenants"):
        return
    state.statement = state.statement.options(*_criteria(session_tenant(state.session)))


@lru_cache(maxsize=1024)
def _criteria(tenant: str | None) -> tuple[LoaderCriteriaOption, LoaderCriteriaOption]:
    """The tenant filter's options, built once per tenant rather than for every statement."""
    return (
        with_loader_criteria(
            TenantScoped,
            lambda cls: cls.tenant_id == tenant,
            include_aliases=True,
        ),
        with_loader_criteria(
            TenantOrShared,
            lambda cls: or_(cls.tenant_id == tenant, cls.tenant_id.is_(None)),
            include_aliases=True,
        ),
    )


@event.listens_for(Session, "before_flush")
def _stamp_tenant(session: Session, _context: Any, _instances: Any) -> None:
    tenant = session_tenant(session)
    for obj in session.new:
        if isinstance(obj, TenantOrShared) and obj.tenant_id is None:
            obj.tenant_id = tenant  # made outside any tenant (start-up): shared
        if isinstance(obj, TenantScoped):
            if obj.tenant_id is None:
                if tenant is None:
                    raise CrossTenantWrite(f"{type(obj).__name__} created outside a tenant")
                obj.tenant_id = tenant
            elif tenant is not None and obj.tenant_id != tenant:
                raise CrossTenantWrite(f"{type(obj).__name__} written into another tenant")
    for obj in (*session.dirty, *session.deleted):
        scoped = isinstance(obj, TenantScoped | TenantOrShared)
        if scoped and tenant is not None and obj.tenant_id != tenant:
            raise CrossTenantWrite(f"{type(obj).__name__} of another tenant modified")
