"""A router mounted only in tests, to drive the cross-cutting machinery through real HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import Field
from sqlalchemy import select

from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.platform.access import api_router, public
from sophon.platform.kv import SystemSetting, put_setting
from sophon.platform.pagination import Page
from sophon.platform.schemas import ApiModel, RequestModel

router = api_router("/_probe", tags=["Probe"])


class EchoIn(RequestModel):
    name: str = Field(min_length=1)
    count: int = Field(ge=0)


class Item(ApiModel):
    key: str


@router.post("/echo")
@public
async def echo(body: EchoIn) -> EchoIn:
    return body


@router.get("/boom")
@public
async def boom() -> None:
    raise RuntimeError("secret internals: password=hunter2")


@router.post("/items")
@public
async def add_item(db: DbDep, key: Annotated[str, Query()]) -> Item:
    await put_setting(db, key, {"v": 1})
    return Item(key=key)


@router.get("/items")
@public
async def list_items(db: DbDep, gateway: GatewayDep, page: PageDep) -> Page[Item]:
    rows, cursor, more = await gateway.paginator.page(
        db, select(SystemSetting), [SystemSetting.key], page, scope="probe.items"
    )
    return Page[Item](items=[Item(key=r.key) for r in rows], next_cursor=cursor, has_more=more)


@router.get("/other")
@public
async def other_list(db: DbDep, gateway: GatewayDep, page: PageDep) -> Page[Item]:
    rows, cursor, more = await gateway.paginator.page(
        db, select(SystemSetting), [SystemSetting.key], page, scope="probe.other"
    )
    return Page[Item](items=[Item(key=r.key) for r in rows], next_cursor=cursor, has_more=more)
