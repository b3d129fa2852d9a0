"""The request handler of an ordinary route (an async endpoint answering one response, with a JSON
body if any): FastAPI's handler, with the facts FastAPI looks up again on every request about
every dependency (coroutine or generator, cache key, which parameter kinds it takes) worked out
once per route, and the work for what a route does not use (a sub-response when no dependency
takes `Response`, empty parameter lists) left out. FastAPI's per-dependency bookkeeping was a
fifth of a trivial route's CPU.

It follows FastAPI 0.165's `get_request_handler` and `solve_dependencies` step for step: the
same order of solving, caching per request, errors gathered in the same order, the same body
parsing and serialization. Left out are FastAPI's OpenTelemetry hooks and its app-wide body
limit, neither of which the Gateway uses (`GatewayApp` drops their middleware; `Edge` enforces the
limits). Anything else (streams, forms, sync endpoints, security scopes, dependency limits,
overrides) keeps FastAPI's own handler: `lean_handler` returns None."""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import params
from fastapi._compat import ModelField, Undefined, lenient_issubclass
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import (
    Dependant,
    _get_computed_scope,
    _is_async_gen_callable,
    _is_coroutine_callable,
    _is_gen_callable,
    _uses_scopes,
)
from fastapi.dependencies.utils import (
    _solve_generator,
    request_body_to_args,
    request_params_to_args,
)
from fastapi.exceptions import RequestValidationError
from fastapi.routing import _extract_endpoint_context, serialize_response
from fastapi.sse import EventSourceResponse
from fastapi.utils import is_body_allowed_for_status_code
from starlette.background import BackgroundTasks
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from fastapi.routing import APIRoute

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
_PARAM_SOURCES: tuple[tuple[str, Callable[[Request], Mapping[str, Any]]], ...] = (
    ("path_params", lambda request: request.path_params),
    ("query_params", lambda request: request.query_params),
    ("header_params", lambda request: request.headers),
    ("cookie_params", lambda request: request.cookies),
)


@dataclass(frozen=True, slots=True)
class _Node:
    """One dependency (or the endpoint itself, at the root) with what FastAPI would look up."""

    dependant: Dependant
    subs: tuple[_Node, ...]
    cache_key: tuple[Any, ...]
    is_generator: bool
    is_coroutine: bool
    params: tuple[tuple[Sequence[ModelField], Callable[[Request], Mapping[str, Any]]], ...]


class _Unsupported(Exception):
    pass


def _node(dependant: Dependant) -> _Node:
    call = dependant.call
    if (
        call is None
        or dependant.concurrency is not None
        or dependant.websocket_param_name
        or dependant.security_scopes_param_name
        or _uses_scopes(dependant=dependant)
    ):
        raise _Unsupported
    return _Node(
        dependant=dependant,
        subs=tuple(_node(sub) for sub in dependant.dependencies),
        # FastAPI's key without scopes, which no supported dependency uses
        cache_key=(call, (), _get_computed_scope(dependant=dependant) or ""),
        is_generator=_is_gen_callable(call) or _is_async_gen_callable(call),
        is_coroutine=_is_coroutine_callable(call),
        params=tuple(
            (fields, source)
            for attribute, source in _PARAM_SOURCES
            if (fields := getattr(dependant, attribute))
        ),
    )


def _any(node: _Node, test: Callable[[Dependant], object]) -> bool:
    return bool(test(node.dependant)) or any(_any(sub, test) for sub in node.subs)


class _Solving:
    """One request's solving: the dependency cache, the shared sub-response and tasks."""

    __slots__ = (
        "background",
        "body",
        "cache",
        "function_stack",
        "request",
        "request_stack",
        "response",
    )

    def __init__(self, request: Request, body: Any, response: Response | None) -> None:
        self.request = request
        self.body = body
        self.response = response
        self.background: BackgroundTasks | None = None
        self.cache: dict[tuple[Any, ...], Any] = {}
        self.request_stack: AsyncExitStack = request.scope["fastapi_inner_astack"]
        self.function_stack: AsyncExitStack = request.scope["fastapi_function_astack"]

    async def solve(self, node: _Node, embed_body_fields: bool) -> tuple[dict[str, Any], list[Any]]:
        values: dict[str, Any] = {}
        errors: list[Any] = []
        request = self.request
        for sub in node.subs:
            sub_values, sub_errors = await self.solve(sub, embed_body_fields)
            if sub_errors:
                errors.extend(sub_errors)
                continue
            dependant = sub.dependant
            if dependant.use_cache and sub.cache_key in self.cache:
                solved = self.cache[sub.cache_key]
            elif sub.is_generator:
                stack = self.function_stack if dependant.scope == "function" else self.request_stack
                solved = await _solve_generator(
                    request=request, dependant=dependant, stack=stack, sub_values=sub_values
                )
            elif sub.is_coroutine:
                solved = await dependant.call(**sub_values)  # type: ignore[misc]
            else:
                solved = await run_in_threadpool(dependant.call, **sub_values)  # type: ignore[arg-type]
            if dependant.name is not None:
                values[dependant.name] = solved
            self.cache.setdefault(sub.cache_key, solved)
        for fields, source in node.params:
            found, failed = request_params_to_args(fields, source(request))
            values.update(found)
            errors += failed
        dependant = node.dependant
        if dependant.body_params:
            found, failed = await request_body_to_args(
                body_fields=dependant.body_params,
                received_body=self.body,
                embed_body_fields=embed_body_fields,
            )
            values.update(found)
            errors.extend(failed)
        if dependant.http_connection_param_name:
            values[dependant.http_connection_param_name] = request
        if dependant.request_param_name:
            values[dependant.request_param_name] = request
        if dependant.background_tasks_param_name:
            if self.background is None:
                self.background = BackgroundTasks()
            values[dependant.background_tasks_param_name] = self.background
        if dependant.response_param_name:
            values[dependant.response_param_name] = self.response
        return values, errors


def _sub_response() -> Response:
    """The response dependencies may set status and headers on (as FastAPI makes it)."""
    response = Response()
    del response.headers["content-length"]
    response.status_code = None  # type: ignore[assignment]
    return response


async def _json_body(request: Request, strict_content_type: bool) -> Any:
    """The body as FastAPI's handler reads it for a JSON body field."""
    body_bytes = await request.body()
    if not body_bytes:
        return Undefined
    content_type = request.headers.get("content-type")
    if not content_type:
        return body_bytes if strict_content_type else await request.json()
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() == "application":
        subtype = message.get_content_subtype()
        if subtype == "json" or subtype.endswith("+json"):
            return await request.json()
    return body_bytes


async def _read_body(request: Request, strict_content_type: bool, ctx: Any) -> Any:
    try:
        return await _json_body(request, strict_content_type)
    except json.JSONDecodeError as e:
        error = {
            "type": "json_invalid",
            "loc": ("body", e.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": e.msg},
        }
        raise RequestValidationError([error], body=e.doc, endpoint_ctx=ctx) from e
    except HTTPException:
        raise
    except Exception as e:
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from e


def lean_handler(route: APIRoute) -> Handler | None:
    """The handler for `route`, or None when FastAPI's own must serve it."""
    call = route.dependant.call
    if (
        call is None
        or route.dependency_overrides_provider is not None
        or route.stream_item_field is not None
        or route.is_json_stream
        or lenient_issubclass(route.response_class, EventSourceResponse)
        or not _is_coroutine_callable(call)
        or _is_gen_callable(call)
        or _is_async_gen_callable(call)
        or (route.body_field is not None and isinstance(route.body_field.field_info, params.Form))
    ):
        return None
    try:
        root = _node(route.dependant)
    except _Unsupported:
        return None
    body_field = route.body_field
    strict = route.strict_content_type
    strict_content_type = strict.value if isinstance(strict, DefaultPlaceholder) else strict
    takes_response = _any(root, lambda dependant: dependant.response_param_name)
    response_class = route.response_class
    plain_json = isinstance(response_class, DefaultPlaceholder)
    actual_response_class: type[Response] = (
        response_class.value if isinstance(response_class, DefaultPlaceholder) else response_class
    )
    dump_json = route.response_field is not None and plain_json
    embed = route._embed_body_fields

    async def app(request: Request) -> Response:
        ctx = _extract_endpoint_context(call)
        if route.dependant.path:
            mount_path = request.scope.get("root_path", "").rstrip("/")
            ctx["path"] = f"{request.method} {mount_path}{route.dependant.path}"
        body = await _read_body(request, strict_content_type, ctx) if body_field else Undefined
        solving = _Solving(request, body, _sub_response() if takes_response else None)
        values, errors = await solving.solve(root, embed)
        if errors:
            raise RequestValidationError(
                errors, body=None if body is Undefined else body, endpoint_ctx=ctx
            )
        raw = await call(**values)
        if isinstance(raw, Response):
            if raw.background is None:
                raw.background = solving.background
            return raw
        sub_response = solving.response
        arguments: dict[str, Any] = {"background": solving.background}
        status = route.status_code
        if sub_response is not None and sub_response.status_code:
            status = sub_response.status_code
        if status is not None:
            arguments["status_code"] = status
        content = await serialize_response(
            field=route.response_field,
            response_content=raw,
            include=route.response_model_include,
            exclude=route.response_model_exclude,
            by_alias=route.response_model_by_alias,
            exclude_unset=route.response_model_exclude_unset,
            exclude_defaults=route.response_model_exclude_defaults,
            exclude_none=route.response_model_exclude_none,
            endpoint_ctx=ctx,
            dump_json=dump_json,
        )
        if dump_json:
            response = Response(content=content, media_type="application/json", **arguments)
        else:
            response = actual_response_class(content, **arguments)
        if not is_body_allowed_for_status_code(response.status_code):
            response.body = b""
        if sub_response is not None:
            response.headers.raw.extend(sub_response.headers.raw)
        return response

    return app
