"""The baseline: a bare Starlette hello-world (and a bearer-checked list) under uvicorn, configured
like `sophon serve`'s server (same host, event loop, HTTP implementation, no access log, no server
header), but silent.

`python -m bench.baseline_app --port N` serves it until SIGTERM."""

from __future__ import annotations

import argparse
import hmac
import json
import os

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


app = Starlette(routes=[Route("/api/health", health), Route("/api/agents", agents)])


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
