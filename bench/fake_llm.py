"""A zero-latency OpenAI-compatible model server for the chat benchmark.

`python -m bench.fake_llm --port P` serves `POST /v1/chat/completions` (streamed as
`chat.completion.chunk` server-sent events ending in `data: [DONE]`, or one JSON completion when
`stream` is false) and `GET /v1/models`. It answers at once with a fixed short reply: whatever a
turn costs beyond calling it is the Gateway's own work. The body is read and parsed as a real
server would, so a request costs the client a full HTTP exchange."""

from __future__ import annotations

import argparse
import json
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MODEL = "bench-zero"
REPLY = ("Zero", " latency", " reply.")


def _chunk(model: str, delta: dict[str, object], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def _usage(model: str) -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [],
        "usage": {"prompt_tokens": 12, "completion_tokens": len(REPLY), "total_tokens": 15},
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def stream_body(model: str) -> bytes:
    """The whole event stream of one answer: a role chunk, the text pieces, the finish chunk,
    usage, `[DONE]`. Sent as one body: a zero-latency model has every token at once."""
    parts = [_chunk(model, {"role": "assistant", "content": ""})]
    parts += [_chunk(model, {"content": piece}) for piece in REPLY]
    parts.append(_chunk(model, {}, "stop"))
    parts.append(_usage(model))
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


async def completions(request: Request) -> Response:
    body = json.loads(await request.body())
    model = str(body.get("model") or MODEL)
    if body.get("stream"):
        return Response(stream_body(model), media_type="text/event-stream")
    return JSONResponse(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(REPLY)},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": len(REPLY), "total_tokens": 15},
        }
    )


async def models(request: Request) -> JSONResponse:
    return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model"}]})


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/v1/chat/completions", completions, methods=["POST"]),
        Route("/v1/models", models),
        Route("/api/health", health),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fake_llm", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
