"""Swagger UI at `/swagger` served from the installed `swagger-ui-bundle` (works offline), and the
Prometheus `/metrics` endpoint."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from sophon.platform import metrics
from sophon.platform.access import GuardedRoute, public, unlimited
from sophon.platform.route_index import add_routes

OPENAPI_URL = "/swagger/v1/swagger.json"
ASSETS = "/swagger/assets"

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


@router.get("/swagger")
@public
async def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=OPENAPI_URL,
        title="Sophon Gateway API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
    )


@router.get("/metrics")
@unlimited
async def prometheus_metrics() -> Response:
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)


def install_docs(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-assets")
    add_routes(app, router)
