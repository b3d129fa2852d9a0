"""The inbound webhook baseline: a bare Starlette route that checks the same
`X-Sophon-Signature: sha256=<hex HMAC>` as the Gateway's receiver and answers 202, under the
uvicorn configuration `sophon serve` uses.

`python -m bench.webhooks_baseline --port N --secret S` serves it until SIGTERM."""

from __future__ import annotations

import argparse
import hashlib
import hmac

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_SECRET: list[bytes] = [b""]


async def receive(request: Request) -> JSONResponse:
    body = await request.body()
    expected = "sha256=" + hmac.new(_SECRET[0], body, hashlib.sha256).hexdigest()
    given = request.headers.get("x-sophon-signature", "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return JSONResponse({"error": "unauthenticated"}, status_code=401)
    return JSONResponse({"matched": False}, status_code=202)


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/api/health", health),
        Route("/api/webhooks/receive/{slug}", receive, methods=["POST"]),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks_baseline")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    _SECRET[0] = args.secret.encode()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="auto",
        http="auto",
        lifespan="off",
        log_level="warning",
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
