"""The baseline: a bare Starlette hello-world and two bearer-checked lists under uvicorn,
configured like `sophon serve`'s server (same host, event loop, HTTP implementation, no access
log, no server header), but silent.

`python -m bench.baseline_app --port N` serves it until SIGTERM."""

from __future__ import annotations

import argparse
import hmac
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite
import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


# The authenticated list: the Gateway's own `GET /api/agents` answer and bearer token, handed
# over by the http benchmark, so the baseline checks the same header and serializes the same list.
_TOKEN = os.environ.get("BENCH_TOKEN", "").encode()
_LIST = json.loads(os.environ.get("BENCH_LIST_BODY", '{"items": []}'))


async def agents(request: Request) -> JSONResponse:
    supplied = request.headers.get("authorization", "").removeprefix("Bearer ").encode()
    if not _TOKEN or not hmac.compare_digest(supplied, _TOKEN):
        return JSONResponse({"code": "unauthorized"}, status_code=401)
    return JSONResponse(_LIST)


# The same list done by hand: the JWT's signature and expiry checked with PyJWT (the Gateway's
# key), then the tenant's live agents read from the Gateway's own SQLite file, newest first.
_JWT_KEY = bytes.fromhex(os.environ.get("BENCH_JWT_KEY", ""))
_DATABASE = os.environ.get("BENCH_DATABASE")
_LIST_SQL = (
    "SELECT * FROM agents WHERE tenant_id = ? AND deleted_at IS NULL ORDER BY id DESC LIMIT 51"
)
_db: dict[str, aiosqlite.Connection] = {}


async def agents_by_hand(request: Request) -> JSONResponse:
    supplied = request.headers.get("authorization", "").removeprefix("Bearer ")
    try:
        claims = jwt.decode(supplied, _JWT_KEY, algorithms=["HS256"], options={"require": ["exp"]})
    except jwt.PyJWTError:
        return JSONResponse({"code": "unauthorized"}, status_code=401)
    async with _db["conn"].execute(_LIST_SQL, (claims["tid"],)) as cursor:
        names = [column[0] for column in cursor.description]
        rows: list[dict[str, Any]] = [
            dict(zip(names, row, strict=True)) for row in await cursor.fetchall()
        ]
    more = len(rows) > 50
    return JSONResponse({"items": rows[:50], "nextCursor": None, "hasMore": more})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    if _DATABASE:
        _db["conn"] = await aiosqlite.connect(f"file:{_DATABASE}?mode=ro", uri=True)
    yield
    if _db:
        await _db.pop("conn").close()


app = Starlette(
    routes=[
        Route("/api/health", health),
        Route("/api/agents", agents),
        Route("/api/agents-by-hand", agents_by_hand),
    ],
    lifespan=lifespan,
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline_app", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="auto",
        http="auto",
        lifespan="on",
        log_level="warning",
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
