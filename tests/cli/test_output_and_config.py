"""Table, JSON and CSV output of a list command; the config file; health, status and doctor."""

from __future__ import annotations

import csv
import io
import json
import stat

import pytest

from tests.cli.conftest import Cli, Gateway, one_line_error

pytestmark = pytest.mark.slow


@pytest.fixture
def three_agents(signed_in: Cli, gateway: Gateway) -> list[str]:
    names = []
    for name in ("alpha", "beta", "gamma"):
        response = gateway.api(
            "POST", "/api/agents", json={"name": f"{name}-{signed_in.home.parent.name}"}
        )
        assert response.status_code == 201, response.text
        names.append(response.json()["name"])
    return names


def test_agents_list_as_table_json_and_csv(signed_in: Cli, three_agents: list[str]) -> None:
    table = signed_in.run("agents", "list", "--limit", "200")
    assert table.returncode == 0, table.stderr
    header = table.stdout.splitlines()[0]
    assert all(word in header for word in ("id", "name", "model", "default"))
    assert all(name in table.stdout for name in three_agents)
    assert "\x1b[" not in table.stdout  # not a terminal: no escape codes

    as_json = json.loads(signed_in.run("agents", "list", "--json", "--limit", "200").stdout)
    assert isinstance(as_json, list)
    assert set(three_agents) <= {a["name"] for a in as_json}
    assert {"id", "name", "model", "isDefault", "createdAt"} <= set(as_json[0])

    as_csv = signed_in.run("--format", "csv", "agents", "list", "--limit", "200").stdout
    rows = list(csv.DictReader(io.StringIO(as_csv)))
    assert list(rows[0]) == ["id", "name", "model", "default", "tools", "updated"]
    by_name = {r["name"]: r for r in rows}
    assert by_name["default"]["default"] == "true"
    assert by_name[three_agents[0]]["default"] == "false"
    assert by_name[three_agents[0]]["id"].startswith("agt_")


def test_format_precedence_flag_env_config(signed_in: Cli, three_agents: list[str]) -> None:
    assert signed_in.invoke("config", "set", "defaultFormat", "csv").code == 0
    assert signed_in.invoke("agents", "list").stdout.startswith("id,name,")
    from_env = signed_in.invoke("agents", "list", SOPHON_FORMAT="json").stdout
    assert isinstance(json.loads(from_env), list)
    flag = signed_in.invoke("agents", "list", "--format", "table", SOPHON_FORMAT="json").stdout
    assert flag.lstrip().startswith("id")
    assert not flag.startswith("id,")
    bad_env = signed_in.invoke("agents", "list", SOPHON_FORMAT="yaml")
    assert bad_env.code == 2
    assert "unknown output format 'yaml'" in one_line_error(bad_env.stderr)


def test_pages_follow_cursors(signed_in: Cli, three_agents: list[str]) -> None:
    first = signed_in.invoke("agents", "list", "--json", "--limit", "1")
    assert len(json.loads(first.stdout)) == 1
    note = first.stderr.strip()
    assert note.startswith("More: --cursor ")
    cursor = note.split()[2]
    second = json.loads(
        signed_in.invoke("agents", "list", "--json", "--limit", "1", "--cursor", cursor).stdout
    )
    assert second[0]["id"] != json.loads(first.stdout)[0]["id"]
    everything = signed_in.invoke("agents", "list", "--json", "--limit", "2", "--all")
    assert everything.stderr == ""
    assert set(three_agents) <= {a["name"] for a in json.loads(everything.stdout)}


def test_config_path_get_set_unset(cli: Cli) -> None:
    assert cli.invoke("config", "path").stdout.strip() == str(cli.config_file)
    assert cli.invoke("config", "get", "gatewayUrl").stdout.strip() == "http://localhost:8080"
    done = cli.invoke("config", "set", "gatewayUrl", "https://sophon.example.com/")
    assert done.code == 0, done.stderr
    assert cli.config() == {"gatewayUrl": "https://sophon.example.com"}
    assert stat.S_IMODE(cli.config_file.stat().st_mode) == 0o600
    assert cli.invoke("config", "get", "gatewayUrl").stdout.strip() == "https://sophon.example.com"
    assert cli.invoke("config", "set", "tokensFooter", "yes").code == 0
    assert cli.config()["tokensFooter"] is True
    everything = json.loads(cli.invoke("config", "get", "--json").stdout)
    assert everything["defaultFormat"] == "table"
    assert everything["tokensFooter"] is True
    assert cli.invoke("config", "unset", "gatewayUrl").code == 0
    assert "gatewayUrl" not in cli.config()


def test_config_refuses_unknown_keys_and_bad_values(cli: Cli) -> None:
    for args, expected in (
        (["set", "colour", "red"], "unknown config key 'colour'"),
        (["set", "defaultFormat", "xml"], "'xml' is not one of table, json, csv"),
        (["set", "gatewayUrl", "ftp://x"], "is not an http:// or https:// URL"),
        (["set", "v2", "maybe"], "'maybe' is not true or false"),
        (["get", "colour"], "unknown config key 'colour'"),
    ):
        done = cli.invoke("config", *args)
        assert done.code == 2, args
        assert expected in one_line_error(done.stderr)
    assert not cli.config_file.exists()


def test_a_corrupt_config_file_means_defaults(cli: Cli) -> None:
    cli.config_file.parent.mkdir(parents=True)
    cli.config_file.write_text("{not json")
    assert cli.invoke("config", "get", "defaultFormat").stdout.strip() == "table"
    assert cli.invoke("health", "--gateway-url", cli.url).code == 0


def test_the_token_is_masked_unless_revealed(signed_in: Cli) -> None:
    token = str(signed_in.config()["authToken"])
    shown = signed_in.invoke("config", "get", "authToken").stdout.strip()
    assert shown != token
    assert token not in signed_in.invoke("config", "get").stdout
    assert signed_in.invoke("config", "get", "authToken", "--reveal").stdout.strip() == token


def test_health_and_status(signed_in: Cli, nowhere: str) -> None:
    health = signed_in.invoke("health", "--json")
    assert health.code == 0
    assert json.loads(health.stdout) == {"status": "ok", "gateway": signed_in.url}
    status = json.loads(signed_in.invoke("status", "--json").stdout)
    assert status["user"] == "root@example.com"
    assert status["version"] == status["cliVersion"]
    assert status["tier"] == "Personal"
    assert status["health"] == "healthy"
    assert status["processing"] == "running"
    assert status["queueDepth"] == 0
    assert signed_in.invoke("health", "--gateway-url", nowhere).code == 3


def test_doctor_reports_and_explains(signed_in: Cli, nowhere: str) -> None:
    good = signed_in.run("doctor", SOPHON_DATA=str(signed_in.home))
    assert good.returncode == 0, good.stdout + good.stderr
    assert "ok    gateway:" in good.stdout
    assert "ok    sign-in: root@example.com" in good.stdout
    assert "database:" in good.stdout
    warnings = good.stdout.count("\nwarn  ") + good.stdout.startswith("warn  ")
    assert "warn  providers: none: chat answers with the offline echo model" in good.stdout
    assert good.stdout.strip().endswith(
        f"Nothing failed, but {warnings} warning{'s' if warnings > 1 else ''} to look at."
    )
    assert "No problems found." not in good.stdout

    report = json.loads(signed_in.run("doctor", "--json").stdout)
    names = {c["name"]: c for c in report["checks"]}
    assert {"settings", "data dir", "cli config", "database", "sandbox", "redis", "gateway",
            "sign-in", "providers"} <= set(names)  # fmt: skip
    assert report["ok"] is True

    bad = signed_in.run("doctor", "--gateway-url", nowhere)
    assert bad.returncode == 1
    assert "fail  gateway: cannot reach the Gateway" in bad.stdout
    assert "fix: start it with `sophon serve`" in bad.stdout
    assert bad.stdout.strip().endswith("Problems found.")


def test_doctor_flags_a_config_file_others_can_read(signed_in: Cli) -> None:
    signed_in.config_file.chmod(0o644)
    done = signed_in.run("doctor", "--json")
    assert done.returncode == 1
    check = next(c for c in json.loads(done.stdout)["checks"] if c["name"] == "cli config")
    assert check["status"] == "fail"
    assert check["fix"] == f"chmod 600 {signed_in.config_file}"
