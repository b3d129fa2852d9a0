"""The Dashboard's routes: the app shell at `/` and at any path outside the API's prefixes (the
app routes in the browser), and its assets under `/assets/<build>/…`, cached for a year (the build
id changes with any file), gzip-compressed, with a strict Content-Security-Policy."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from starlette.routing import Match
from starlette.types import Scope

from sophon.platform.access import GuardedRoute, unlimited
from sophon.platform.errors import NotFound
from sophon.platform.route_index import add_routes
from sophon.web.assets import ENTRY, Bundle, bundle

# the shell is never served under these: they are the API's (unknown paths there stay 404s)
RESERVED = frozenset({"api", "hubs", "mcp", "swagger", "metrics", "assets", "favicon.ico"})
IMMUTABLE = "public, max-age=31536000, immutable"
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def content_security_policy(assets: Bundle) -> str:
    """No inline script and no eval: scripts come from this origin only, plus the import map,
    allowed by its hash. Styles from files only; connections to this origin (and its hubs)."""
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' '{assets.import_map_hash}'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def shell_html(assets: Bundle) -> str:
    preload = "\n".join(
        f'<link rel="modulepreload" href="{escape(assets.url(p))}">' for p in assets.preload
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Sophon</title>
<link rel="icon" href="{escape(assets.url("app/icon.svg"))}" type="image/svg+xml">
<link rel="stylesheet" href="{escape(assets.url("app/styles.css"))}">
<script type="importmap">{assets.import_map}</script>
{preload}
<link rel="preload" href="/api/auth/setup" as="fetch" crossorigin="anonymous">
<script type="module" src="{escape(assets.url(ENTRY))}"></script>
</head>
<body>
<div id="app"><p class="boot" role="status">Loading Sophon…</p></div>
<noscript>The Sophon Dashboard needs JavaScript. The API is at /api and /swagger.</noscript>
</body>
</html>
"""


class ShellRoute(GuardedRoute):
    """Matches GET for any path outside the reserved prefixes, and nothing else: other methods
    and the API's unknown paths keep their own 404 and 405 answers."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != "GET":
            return Match.NONE, {}
        first = scope["path"].lstrip("/").partition("/")[0]
        if first in RESERVED:
            return Match.NONE, {}
        return super().matches(scope)


router = APIRouter(route_class=GuardedRoute, include_in_schema=False)
shell_router = APIRouter(route_class=ShellRoute, include_in_schema=False)


def _shell() -> HTMLResponse:
    assets = bundle()
    headers = {
        **SECURITY_HEADERS,
        "Content-Security-Policy": content_security_policy(assets),
        "Cache-Control": "no-cache",
    }
    return HTMLResponse(shell_html(assets), headers=headers)


@router.get("/assets/{build}/{path:path}")
@unlimited
async def asset(build: str, path: str, request: Request) -> Response:
    """One Dashboard file; immutable when `build` is the current build."""
    assets = bundle()
    found = assets.files.get(path)
    if found is None:
        raise NotFound("No such Dashboard asset.", {"path": path})
    headers = {
        "ETag": found.etag,
        "Vary": "Accept-Encoding",
        "Cache-Control": IMMUTABLE if build == assets.build else "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "same-origin",
    }
    if request.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers=headers)
    body = found.body
    if found.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        body = found.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=found.media_type, headers=headers)


@shell_router.get("/{path:path}")
@unlimited
async def shell(path: str) -> HTMLResponse:
    """The app shell: the Dashboard routes this path in the browser."""
    return _shell()


def install_web(app: FastAPI) -> None:
    """Adds the Dashboard's routes; call it last, so that every other route matches first."""
    add_routes(app, router)
    add_routes(app, shell_router)
