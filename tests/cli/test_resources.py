"""Resource commands: agents and SOUL.md, model providers, tools, admin lists, token refresh."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, Gateway, one_line_error
from tests.llm.fakes import FakeServer

pytestmark = pytest.mark.slow


def test_agent_lifecycle_and_soul(signed_in: Cli, gateway: Gateway, tmp_path: Path) -> None:
    made = signed_in.invoke("agents", "create", "--name", "writer", "--description", "Writes")
    assert made.code == 0, made.stderr
    assert made.stdout.startswith("Created agent writer (agt_")
    shown = json.loads(signed_in.invoke("agents", "show", "writer", "--json").stdout)
    assert shown["description"] == "Writes"
    used = json.loads(signed_in.invoke("agents", "usage", "writer", "--json").stdout)
    assert [k["kind"] for k in used["byKind"]] == ["chat", "memory"]
    assert used["agentId"] == shown["id"]
    table = signed_in.invoke("agents", "usage", "writer", "--days", "7")
    assert table.code == 0, table.stderr
    assert "memory" in table.stdout
    refused = signed_in.invoke("agents", "usage", "writer", "--days", "0")
    assert refused.code == 2, refused.stdout

    soul = tmp_path / "SOUL.md"
    soul.write_text("# Writer\n\nShort sentences.\n", encoding="utf-8")
    saved = signed_in.invoke("agents", "soul", "set", "writer", "--file", str(soul))
    assert saved.code == 0, saved.stderr
    assert saved.stdout.startswith("Saved SOUL.md of writer (version ")
    assert signed_in.invoke("agents", "soul", "get", "writer").stdout == soul.read_text()
    from_stdin = signed_in.invoke("agents", "soul", "set", "writer", "-f", "-", stdin="# Two\n")
    assert from_stdin.code == 0, from_stdin.stderr
    read = json.loads(signed_in.invoke("agents", "soul", "get", shown["id"], "--json").stdout)
    assert read["content"] == "# Two\n"
    assert read["etag"]

    missing = signed_in.invoke("agents", "soul", "set", "writer", "--file", str(tmp_path / "no"))
    assert missing.code == 2
    assert "cannot read" in one_line_error(missing.stderr)
    assert signed_in.invoke("agents", "soul", "get", "writer").stdout == "# Two\n"

    deleted = signed_in.invoke("agents", "delete", "writer")
    assert deleted.code == 0, deleted.stderr
    assert gateway.api("GET", f"/api/agents/{shown['id']}").status_code == 404
    again = signed_in.invoke("agents", "delete", "writer")
    assert again.code == 1
    assert one_line_error(again.stderr) == "sophon: no agent named 'writer'"
    default = signed_in.invoke("agents", "delete", "default")
    assert default.code == 1
    assert "(conflict, HTTP 409, request req_" in one_line_error(default.stderr)


def test_agent_tool_allowlist(signed_in: Cli) -> None:
    assert signed_in.invoke("agents", "create", "--name", "tooled").code == 0
    done = signed_in.invoke("agents", "tools", "set", "tooled", "datetime.*", "--json")
    assert json.loads(done.stdout) == {"tools": ["datetime.*"], "effective": ["datetime.now"]}
    bad = signed_in.invoke("agents", "tools", "set", "tooled", "nope.x")
    assert bad.code == 1
    assert "validation_failed, HTTP 422" in one_line_error(bad.stderr)
    kept = json.loads(signed_in.invoke("agents", "tools", "get", "tooled", "--json").stdout)
    assert kept["tools"] == ["datetime.*"]


def test_model_providers_add_list_test(signed_in: Cli) -> None:
    added = signed_in.invoke("models", "providers", "add", "--name", "offline", "--type", "echo",
                             "--model", "echo")  # fmt: skip
    assert added.code == 0, added.stderr
    assert added.stdout.startswith("Added provider offline (")
    listed = json.loads(signed_in.invoke("models", "providers", "list", "--json").stdout)
    assert [p["name"] for p in listed] == ["offline"]
    tested = signed_in.invoke("models", "providers", "test", "offline", "--json")
    assert tested.code == 0, tested.stderr
    assert json.loads(tested.stdout)["ok"] is True
    refs = [m["ref"] for m in json.loads(signed_in.invoke("models", "list", "--json").stdout)]
    assert "offline/echo" in refs

    twice = signed_in.invoke("models", "providers", "add", "--name", "offline", "--type", "echo")
    assert twice.code == 1
    assert "(conflict, HTTP 409, request req_" in one_line_error(twice.stderr)
    unknown = signed_in.invoke("models", "providers", "test", "nothing")
    assert unknown.code == 1
    assert one_line_error(unknown.stderr) == "sophon: no model provider 'nothing'"
    bad_type = signed_in.invoke("models", "providers", "add", "--name", "x", "--type", "nope")
    assert bad_type.code == 1
    assert "validation_failed" in one_line_error(bad_type.stderr)
    names = [
        p["name"]
        for p in json.loads(signed_in.invoke("models", "providers", "list", "--json").stdout)
    ]
    assert names == ["offline"]


def test_models_list_shows_what_a_provider_without_models_serves(
    signed_in: Cli, gateway: Gateway, fake_server: FakeServer
) -> None:
    fake_server.reset()
    url = f"{fake_server.url}/v1"
    added = signed_in.invoke("models", "providers", "add", "--name", "local", "--json",
                             "--provider-type", "openai", "--base-url", url)  # fmt: skip
    assert added.code == 0, added.stderr
    try:
        _list_discovered(signed_in)
    finally:  # the module's other tests expect only their own providers
        gateway.api("DELETE", f"/api/models/providers/{json.loads(added.stdout)['id']}")


def _list_discovered(signed_in: Cli) -> None:
    refs = [m["ref"] for m in json.loads(signed_in.invoke("models", "list", "--json").stdout)]
    assert {"local/fake-chat-large", "local/fake-chat-small"} <= set(refs)
    table = signed_in.invoke("models", "list", "--limit", "1")
    assert table.code == 0, table.stderr
    assert "--cursor" in table.stderr
    everything = json.loads(
        signed_in.invoke("models", "list", "--all", "--limit", "1", "--json").stdout
    )
    assert [m["ref"] for m in everything] == refs


def test_tools_list_needs_no_sign_in(cli: Cli) -> None:
    tools = json.loads(cli.invoke("tools", "list", "--json").stdout)
    assert {"datetime.now", "web.fetch"} <= {t["name"] for t in tools}
    assert "datetime.now" in cli.invoke("tools", "list", "--format", "csv").stdout


def test_admin_lists(signed_in: Cli) -> None:
    users = json.loads(signed_in.invoke("admin", "users", "list", "--json").stdout)
    assert "root@example.com" in [u["email"] for u in users]
    roles = json.loads(signed_in.invoke("admin", "roles", "list", "--json").stdout)
    assert {"Admin", "Viewer"} <= {r["name"] for r in roles}
    tenants = signed_in.invoke("admin", "tenants", "list", "--json")
    assert tenants.code == 4  # tenants are an Enterprise feature; this Gateway is Personal
    assert "needs the Enterprise tier" in one_line_error(tenants.stderr)
    audit = json.loads(
        signed_in.invoke("admin", "audit", "list", "--json", "--action", "auth.").stdout
    )
    assert audit
    assert all(e["action"].startswith("auth.") for e in audit)
    shown = json.loads(
        signed_in.invoke("admin", "users", "show", "root@example.com", "--json").stdout
    )
    assert shown["roles"] == ["Admin"]
    made = signed_in.invoke(
        "admin", "users", "create", "--email", "new@example.com", "--role", "Viewer", "--json"
    )
    assert made.code == 0, made.stderr
    assert json.loads(made.stdout)["initialPassword"]
    assert signed_in.invoke("admin", "users", "delete", "new@example.com").code == 0
    verify = signed_in.invoke("admin", "audit", "verify", "--json")
    assert verify.code == 0
    assert json.loads(verify.stdout)["ok"] is True


def test_a_login_jwt_close_to_expiry_is_refreshed(signed_in: Cli) -> None:
    config = signed_in.config()
    assert config["gatewayUrl"] == signed_in.url  # stored at login: the token's issuer
    soon = datetime.now(UTC) + timedelta(minutes=5)
    config["authExpiresAt"] = soon.isoformat().replace("+00:00", "Z")
    signed_in.config_file.write_text(json.dumps(config))
    assert signed_in.invoke("whoami").code == 0
    renewed = signed_in.config()
    assert str(renewed["authExpiresAt"]) > (soon + timedelta(minutes=30)).isoformat()
    assert signed_in.invoke("whoami").code == 0
