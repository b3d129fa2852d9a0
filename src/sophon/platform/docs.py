"""Swagger UI at `/swagger` served from the installed `swagger-ui-bundle-v2` (Swagger UI 5, which
renders OpenAPI 3.1; works offline), and the Prometheus `/metrics` endpoint."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from sophon.platform import metrics
from sophon.platform.access import GuardedRoute, public, unlimited
from sophon.platform.route_index import add_routes

OPENAPI_URL = "/swagger/v1/swagger.json"
ASSETS = "/swagger/assets"
INIT_URL = "/swagger/init.js"
TITLE = "Sophon Gateway API"

# No inline script: the page loads the bundle and this initializer, so a strict CSP holds.
_INIT_JS = f"""window.ui = SwaggerUIBundle({{
  url: "{OPENAPI_URL}",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
}});
"""
_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(TITLE)}</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
<link rel="icon" type="image/png" href="{ASSETS}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="{INIT_URL}"></script>
</body>
</html>
"""
# Swagger UI sets inline styles and draws icons from data: URIs; scripts come only from here.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


@router.get("/swagger")
@public
async def swagger_ui() -> HTMLResponse:
    return HTMLResponse(_PAGE, headers={"Content-Security-Policy": _CSP})


@router.get(INIT_URL)
@public
async def swagger_init() -> Response:
    return Response(_INIT_JS, media_type="text/javascript")


@router.get("/metrics")
@unlimited
async def prometheus_metrics() -> Response:
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)


def install_docs(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-assets")
    add_routes(app, router)
