"""The Gateway serves the Dashboard: the app shell at `/` and at any path outside the API's
prefixes (whose unknown paths stay JSON 404s), assets cached for a year and gzip-compressed,
and a strict Content-Security-Policy with the other security headers."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
import pytest

from tests.helpers import assert_error


async def test_the_shell_is_served_at_root_and_at_app_paths(client: httpx.AsyncClient) -> None:
    for path in ("/", "/chat", "/agents/agt_x", "/admin/audit?x=1"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert '<script type="module"' in response.text
        assert response.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "path", ["/api/nope", "/hubs/nope/x", "/mcp/anything", "/swagger/nope", "/assets/x/nope.js"]
)
async def test_reserved_prefixes_keep_their_json_404(client: httpx.AsyncClient, path: str) -> None:
    assert_error(await client.get(path), 404, "not_found")


async def test_other_methods_on_app_paths_are_not_the_shell(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/chat", json={}), 404, "not_found")


async def test_existing_routes_still_answer(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/health")).json() == {"status": "ok"}
    assert (await client.get("/swagger")).status_code == 200
    assert (await client.get("/metrics")).status_code == 200


async def test_security_headers_and_a_csp_without_inline_script(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/chat")
    csp = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "'unsafe-inline'" not in csp
    assert "'unsafe-eval'" not in csp
    # the only inline element is the import map, allowed by its exact hash
    import_map = re.search(r'<script type="importmap">(.*?)</script>', response.text, re.S)
    assert import_map is not None
    digest = base64.b64encode(hashlib.sha256(import_map[1].encode()).digest()).decode()
    assert directives["script-src"] == f"'self' 'sha256-{digest}'"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*importmap)", response.text) == []


async def test_assets_are_immutable_compressed_and_revalidated(client: httpx.AsyncClient) -> None:
    shell = (await client.get("/")).text
    entry = re.search(r'<script type="module" src="([^"]+)"', shell)
    assert entry is not None
    url = entry[1]
    assert re.fullmatch(r"/assets/[0-9a-f]{12}/app/main\.js", url)
    plain = await client.get(url, headers={"Accept-Encoding": "identity"})
    assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert plain.headers["content-type"].startswith("text/javascript")
    zipped = await client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content  # httpx decompressed it
    again = await client.get(url, headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304
    stale = await client.get(url.replace(url.split("/")[2], "000000000000"))
    assert stale.status_code == 200
    assert stale.headers["cache-control"] == "no-cache"


async def test_the_shell_is_public_and_not_rate_limited(client: httpx.AsyncClient) -> None:
    for _ in range(130):  # over the per-IP read limit (120/min) of public API routes
        assert (await client.get("/chat")).status_code == 200


async def test_the_first_page_modules_are_preloaded_and_pages_are_not(
    client: httpx.AsyncClient,
) -> None:
    shell = (await client.get("/")).text
    preloaded = re.findall(r'<link rel="modulepreload" href="/assets/\w+/([^"]+)"', shell)
    assert preloaded[0] == "app/main.js"
    assert {"app/lib/api.js", "app/signin.js", "vendor/preact/dist/preact.mjs"} <= set(preloaded)
    assert not [p for p in preloaded if p.startswith("app/pages/")]  # loaded on first visit
    assert '<link rel="preload" href="/api/auth/setup" as="fetch"' in shell
