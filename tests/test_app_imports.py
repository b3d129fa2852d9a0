"""Cold start: what `sophon serve` imports before it answers. Rarely used heavy libraries load on
first use (bench/README.md, cold start), so a stray top-level import cannot quietly bring them
back into every start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sophon.app import ROUTERS

ROOT = Path(__file__).resolve().parents[1]
# the MCP SDK and its types (pydantic models of two protocol versions) were a fifth of the import
NOT_AT_START = ("mcp", "mcp_types", "httpx2")
# the domains' routers, their schemas and FastAPI's work on ~200 routes were a third of the import:
# each is built on the first request under its prefix (route_index.defer_router)
ROUTER_MODULES = {target.partition(":")[0] for _, target in ROUTERS}
# the HTTP client, the template and schema engines, the model adapters, the agent runtime and the
# built-in tools (which reach most domains) load after the Gateway answers: with the background
# parts (app._start_background) or on first use
AFTER_START = ("httpx", "httpcore", "jinja2", "jsonschema", "yaml")
AFTER_START_MODULES = ("sophon.llm", "sophon.runtime.engine", "sophon.tools.builtins")
# what `sophon serve` loads before the app answers: the entry point, the server's command, the
# app and the Gateway its start-up builds
PROBE = """
import json, sys
import sophon.cli.main, sophon.cli.serve
from sophon.app import create_app
from sophon.gateway import Gateway
from sophon.settings import load_settings
settings = load_settings()
create_app(settings)
Gateway.build(settings)
print(json.dumps(sorted(sys.modules)))
"""


def _loaded_at_start(data: Path) -> set[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPHON_")}
    env |= {"SOPHON_DATA": str(data), "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def _packages(modules: set[str]) -> set[str]:
    return {module.split(".")[0] for module in modules}


def test_serving_the_app_does_not_import_the_mcp_sdk(tmp_path: Path) -> None:
    loaded = _packages(_loaded_at_start(tmp_path / "data"))
    assert {"sophon", "fastapi"} <= loaded  # the probe saw the app's imports
    assert not loaded & set(NOT_AT_START), sorted(loaded & set(NOT_AT_START))


def test_serving_the_app_builds_no_domain_router(tmp_path: Path) -> None:
    loaded = _loaded_at_start(tmp_path / "data")
    assert "sophon.public.router" in loaded  # the probe saw the app's imports
    assert not loaded & ROUTER_MODULES, sorted(loaded & ROUTER_MODULES)


def test_serving_loads_none_of_the_client_commands(tmp_path: Path) -> None:
    loaded = _loaded_at_start(tmp_path / "data")
    assert "sophon.cli.serve" in loaded  # the probe saw the server's command
    client = sorted(m for m in loaded if m.startswith(("sophon.cli.cmd_", "sophon.cli.commands")))
    assert client == []
    assert "typer" not in _packages(loaded)  # `serve` parses its options with argparse


def test_serving_leaves_background_libraries_for_after_the_start(tmp_path: Path) -> None:
    loaded = _loaded_at_start(tmp_path / "data")
    assert "sophon.gateway" in loaded  # the probe saw the Gateway's imports
    assert not _packages(loaded) & set(AFTER_START), sorted(_packages(loaded) & set(AFTER_START))
    late = sorted(m for m in loaded if m.startswith(AFTER_START_MODULES))
    assert late == []
