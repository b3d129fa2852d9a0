"""Cursor pagination, one helper for every list: keyset over ordered columns, cursors signed and
bound to the list they came from, so they can't be forged, tampered with or replayed elsewhere."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from fastapi import Query
from sqlalchemy import Select, literal, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from sophon.platform.errors import InvalidRequest
from sophon.platform.schemas import ApiModel

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(ApiModel, Generic[T]):
    items: list[T]
    next_cursor: str | None
    has_more: bool


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None


async def page_params(  # async: FastAPI runs a plain def in a worker thread
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page (1-200)."),
    cursor: str | None = Query(None, description="Opaque cursor from a previous page."),
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


class CursorCodec:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _sign(self, payload: bytes) -> str:
        digest = hmac.new(self._key, payload, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def encode(self, scope: str, values: list[Any]) -> str:
        body = json.dumps({"s": scope, "k": [_dump(v) for v in values]}, separators=(",", ":"))
        payload = body.encode()
        token = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
        return f"{token}.{self._sign(payload)}"

    def decode(self, scope: str, cursor: str) -> list[Any]:
        bad = InvalidRequest("The cursor is invalid or belongs to another list.")
        token, _, signature = cursor.partition(".")
        try:
            payload = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, TypeError):
            raise bad from None
        if not signature or not hmac.compare_digest(signature, self._sign(payload)):
            raise bad
        data = json.loads(payload)
        if data.get("s") != scope:
            raise bad
        return [_load(v) for v in data["k"]]


def _dump(value: Any) -> Any:
    return {"$dt": value.isoformat()} if isinstance(value, datetime) else value


def _load(value: Any) -> Any:
    if isinstance(value, dict) and "$dt" in value:
        return datetime.fromisoformat(value["$dt"])
    return value


class Paginator:
    """Pages a select by keyset. `order` lists the columns (the last one unique, usually `id`),
    all in one direction; `scope` names the list so a cursor can't be used on another."""

    def __init__(self, codec: CursorCodec) -> None:
        self.codec = codec

    async def page(
        self,
        db: AsyncSession,
        stmt: Select[Any],
        order: list[InstrumentedAttribute[Any]],
        params: PageParams,
        scope: str,
        *,
        descending: bool = True,
    ) -> tuple[list[Any], str | None, bool]:
        keys = tuple_(*order)
        if params.cursor:
            after = self.codec.decode(scope, params.cursor)
            if len(after) != len(order):
                raise InvalidRequest("The cursor is invalid or belongs to another list.")
            bound = tuple_(*(literal(v, c.type) for v, c in zip(after, order, strict=True)))
            stmt = stmt.where(keys < bound if descending else keys > bound)
        stmt = stmt.order_by(*(c.desc() if descending else c.asc() for c in order))
        rows = list((await db.scalars(stmt.limit(params.limit + 1))).all())
        has_more = len(rows) > params.limit
        rows = rows[: params.limit]
        cursor = None
        if has_more:
            last = rows[-1]
            cursor = self.codec.encode(scope, [getattr(last, c.key) for c in order])
        return rows, cursor, has_more

    def page_list(
        self, items: Sequence[T], params: PageParams, scope: str, key: Callable[[T], str]
    ) -> tuple[list[T], str | None, bool]:
        """A page of a list built in memory (a catalog, not a table), in its given order. The
        cursor holds the last item's `key` and position: the next page starts after that item,
        or at its position if the item has gone since."""
        start = 0
        if params.cursor:
            after = self.codec.decode(scope, params.cursor)
            if len(after) != 2 or not isinstance(after[0], int) or not isinstance(after[1], str):
                raise InvalidRequest("The cursor is invalid or belongs to another list.")
            keys = [key(item) for item in items]
            start = keys.index(after[1]) + 1 if after[1] in keys else min(after[0], len(items))
        chunk = list(items[start : start + params.limit])
        has_more = start + len(chunk) < len(items)
        cursor = None
        if has_more:
            cursor = self.codec.encode(scope, [start + len(chunk), key(chunk[-1])])
        return chunk, cursor, has_more


def page_in_memory(
    paginator: Paginator,
    items: Sequence[T],
    params: PageParams,
    scope: str,
    key: Callable[[T], str],
) -> Page[T]:
    """`paginator.page_list` as a page of the given wire models."""
    chunk, cursor, more = paginator.page_list(items, params, scope, key)
    return Page[T](items=chunk, next_cursor=cursor, has_more=more)


async def page_of(
    paginator: Paginator,
    db: AsyncSession,
    stmt: Select[Any],
    params: PageParams,
    scope: str,
    convert: Callable[[Any], T],
    *,
    order: list[InstrumentedAttribute[Any]] | None = None,
    descending: bool = True,
) -> Page[T]:
    """A page of wire models: `paginator.page` ordered by the row's `id` unless told otherwise,
    each row passed through `convert`."""
    columns = order or [stmt.column_descriptions[0]["entity"].id]
    rows, cursor, more = await paginator.page(
        db, stmt, columns, params, scope, descending=descending
    )
    return Page[T](items=[convert(row) for row in rows], next_cursor=cursor, has_more=more)
