"""The Dashboard's first load in a real browser (Debian's Chromium through Playwright, a fresh
browser context per load, so nothing is cached), against a Gateway with its admin made, so the
first page is the sign-in form:

- milliseconds from navigation start until the sign-in form exists and takes input, against the
  browser's floor measured the same way in the same run: a static HTML sign-in form with no
  script at all, answered by the browser itself (no server work), on the same origin;
- the compressed bytes of JavaScript the page fetched, against the same files' uncompressed size
  (the ratio is what gzip saves).

Targets (issue 17): interactive within 1 s, under 300 KB of compressed JavaScript."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.harness import Benchmark, Row, RunContext, Target, alternate, median
from bench.processes import first_admin_token

CHROMIUM = Path(os.environ.get("SOPHON_TEST_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync"]
FLOOR_PATH = "/bench-floor"
FLOOR_HTML = (
    '<!doctype html><html lang="en"><title>floor</title><form><label>Email '
    '<input name="email" type="email"></label><label>Password <input name="password" '
    'type="password"></label><button>Sign in</button></form></html>'
)
# a function, not an expression: Playwright would `eval` an expression, which the CSP refuses
READY = "() => document.querySelector('input[name=email]') !== null"
JS_BYTES = """() => performance.getEntriesByType('resource')
  .filter(r => /\\.m?js(\\?|$)/.test(r.name))
  .reduce((sum, r) => [sum[0] + r.encodedBodySize, sum[1] + r.decodedBodySize], [0, 0])"""


def _load(browser: Any, url: str, sizes: list[tuple[float, float]] | None) -> float:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.route(
            f"**{FLOOR_PATH}",
            lambda route: route.fulfill(body=FLOOR_HTML, content_type="text/html"),
        )
        page.goto(url, wait_until="commit")
        page.wait_for_function(READY, polling="raf", timeout=30_000)
        elapsed = float(page.evaluate("performance.now()"))
        if sizes is not None:
            page.wait_for_load_state("networkidle")
            encoded, decoded = page.evaluate(JS_BYTES)
            sizes.append((encoded / 1024, decoded / 1024))
        return elapsed
    finally:
        context.close()


def run(ctx: RunContext) -> list[Row]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise RuntimeError("needs Playwright (pip install -e '.[test]')") from exc
    if not CHROMIUM.exists():
        raise RuntimeError(f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    server = ctx.gateway()
    server.start()
    first_admin_token(server)
    sizes: list[tuple[float, float]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            ctx.say("warm-up load of each page")
            _load(browser, server.url + "/", None)
            _load(browser, server.url + FLOOR_PATH, None)
            samples = alternate(
                {
                    "dashboard": lambda: _load(browser, server.url + "/", sizes),
                    "static form": lambda: _load(browser, server.url + FLOOR_PATH, None),
                },
                ctx.rounds,
                ctx.say,
            )
        finally:
            browser.close()
    compressed = [s[0] for s in sizes]
    raw = [s[1] for s in sizes]
    return [
        Row(
            benchmark="dashboard",
            metric="first load until sign-in takes input (vs a static form)",
            unit="ms",
            project=median(samples["dashboard"]),
            baseline=median(samples["static form"]),
            target=Target("max_value", 1000),
            project_samples=tuple(samples["dashboard"]),
            baseline_samples=tuple(samples["static form"]),
        ),
        Row(
            benchmark="dashboard",
            metric="first page's JavaScript, gzip (vs uncompressed)",
            unit="KB",
            project=median(compressed),
            baseline=median(raw),
            target=Target("max_value", 300),
            project_samples=tuple(compressed),
            baseline_samples=tuple(raw),
        ),
    ]


BENCHMARK = Benchmark(
    name="dashboard",
    summary="first load in Chromium: time to an interactive sign-in form, compressed JS bytes",
    run=run,
)
