from __future__ import annotations

import re

import httpx

from sophon import __version__


async def test_health_is_shallow_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_version(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/version")).json()
    assert body["version"] == __version__
    assert body["apiVersion"] == "v1"


async def test_openapi_has_stable_ids_tags_and_error_envelope(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/swagger/v1/swagger.json")).json()
    health = spec["paths"]["/api/health"]["get"]
    assert health["operationId"] == "getHealth"
    assert health["tags"] == ["Public"]
    assert health["x-sophon-permission"] == "public"
    assert health["responses"]["500"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorEnvelope"
    }
    assert "ErrorEnvelope" in spec["components"]["schemas"]


async def test_swagger_ui_is_served_offline(client: httpx.AsyncClient) -> None:
    page = await client.get("/swagger")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="(/swagger/assets/[^"]+)"', page.text)
    assert assets
    assert all(a.startswith("/swagger/assets/") for a in assets)
    assert "cdn" not in page.text.lower()
    for asset in assets:
        assert (await client.get(asset)).status_code == 200, asset


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/api/health")
    await client.get("/api/nope")
    text = (await client.get("/metrics")).text
    assert re.search(
        r'sophon_http_requests_total\{method="GET",route="/api/health",status="200"\} [1-9]', text
    )
    assert 'route="unmatched",status="404"' in text
    assert "sophon_http_request_duration_seconds_bucket" in text
