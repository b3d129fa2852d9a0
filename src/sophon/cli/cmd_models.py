"""`sophon models list`, `models providers list|add|test`, `tools list`."""

from __future__ import annotations

import sys
from typing import Annotated, Any
from urllib.parse import quote

import typer

from sophon.cli.core import new_app
from sophon.cli.errors import EXIT_ERROR, EXIT_USAGE, CliError, fail
from sophon.cli.listing import AllOpt, CursorOpt, LimitOpt, progress, show_page
from sophon.cli.runtime import runtime

app = new_app("Models and model providers.")
providers_app = new_app("Model providers: credentials, routing order, tests.")
app.add_typer(providers_app, name="providers")
tools_app = new_app("The tool catalog.")

PROVIDER_COLUMNS = [
    ("id", "id"),
    ("name", "name"),
    ("type", "type"),
    ("priority", "priority"),
    ("status", "status"),
    ("default model", "defaultModel"),
    ("key", "apiKey"),
    ("last error", "lastError"),
]


def _provider_id(ref: str) -> str:
    """A provider id from an id or a name."""
    for page in runtime().api.pages("/api/models/providers", limit=200):
        for provider in page.items:
            if ref in (provider["id"], provider["name"]):
                return str(provider["id"])
    raise CliError(f"no model provider {ref!r}")


@app.command("list")
def list_models(limit: LimitOpt = 50, cursor: CursorOpt = None, everything: AllOpt = False) -> None:
    """Every model of the tenant's providers in routing order, then the offline echo model.
    A provider added without models shows the ones its server listed."""
    show_page(
        "/api/models",
        [("ref", "ref"), ("provider", "provider"), ("model", "id"), ("name", "displayName")],
        limit=limit,
        cursor=cursor,
        everything=everything,
    )


@providers_app.command("list")
def list_providers(
    limit: LimitOpt = 50, cursor: CursorOpt = None, everything: AllOpt = False
) -> None:
    """The tenant's providers in routing order."""
    show_page(
        "/api/models/providers",
        PROVIDER_COLUMNS,
        limit=limit,
        cursor=cursor,
        everything=everything,
    )


@providers_app.command("add")
def add_provider(
    name: Annotated[str, typer.Option(help="Unique in the tenant; models are `<name>/<model>`.")],
    type_: Annotated[
        str, typer.Option("--type", "--provider-type", help="openai, anthropic or echo.")
    ],
    base_url: Annotated[
        str | None, typer.Option(help="Default: the vendor's public API (e.g. Ollama's URL).")
    ] = None,
    api_key_stdin: Annotated[
        bool,
        typer.Option("--api-key-stdin", help="Read the API key from stdin (kept off argv)."),
    ] = False,
    model: Annotated[
        list[str] | None, typer.Option("--model", help="A model id it serves; repeat.")
    ] = None,
    default_model: Annotated[
        str | None, typer.Option(help="Without it or --model: the models the server lists.")
    ] = None,
    priority: Annotated[int | None, typer.Option(help="Lower is tried first.")] = None,
) -> None:
    """Add a provider (its API key is encrypted at rest, shown only masked)."""
    rt = runtime()
    body: dict[str, Any] = {"name": name, "providerType": type_}
    if api_key_stdin:
        key = sys.stdin.readline().strip()
        if not key:
            fail("no API key on stdin", EXIT_USAGE)
        body["apiKey"] = key
    for field, value in (
        ("baseUrl", base_url),
        ("defaultModel", default_model),
        ("priority", priority),
    ):
        if value is not None:
            body[field] = value
    if model:
        body["models"] = [{"id": m} for m in model]
    made = rt.api.post("/api/models/providers", json=body)
    if rt.format == "table":
        rt.out.text(f"Added provider {made['name']} ({made['id']})")
    else:
        rt.out.record(made, PROVIDER_COLUMNS)


@providers_app.command("test")
def test_provider(provider: Annotated[str, typer.Argument(help="Provider id or name.")]) -> None:
    """List the provider's models and make one tiny real call; exit 1 when it fails."""
    rt = runtime()
    path = f"/api/models/providers/{quote(_provider_id(provider), safe='')}/test"
    with progress(rt, f"Testing {provider}…"):
        result = rt.api.post(path, timeout=120.0)
    rt.out.record(
        result,
        [
            ("ok", "ok"),
            ("status", "status"),
            ("latency ms", "latencyMs"),
            ("model", "model"),
            ("reply", "reply"),
            ("models", "models"),
            ("error", "error.message"),
        ],
    )
    if not result.get("ok"):
        raise typer.Exit(EXIT_ERROR)


@tools_app.command("list")
def list_tools(limit: LimitOpt = 50, cursor: CursorOpt = None, everything: AllOpt = False) -> None:
    """Every tool the Gateway offers, with its risk level and whether it can run here."""
    show_page(
        "/api/tools",
        [
            ("name", "name"),
            ("risk", "riskLevel"),
            ("source", "source"),
            ("available", "available"),
            ("description", "description"),
            ("why unavailable", "unavailableReason"),
        ],
        limit=limit,
        cursor=cursor,
        everything=everything,
    )
