"""Sign-in, sign-out, identity and every failure path: one line on stderr, the right exit code."""

from __future__ import annotations

import json
import stat

import pytest

from tests.cli.conftest import EMAIL, PASSWORD, Cli, Gateway, one_line_error

pytestmark = pytest.mark.slow


def test_login_whoami_logout_as_processes(cli: Cli) -> None:
    done = cli.run("login", "--email", EMAIL, "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"Signed in to {cli.url} as {EMAIL} (Admin)"
    assert stat.S_IMODE(cli.config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.config_file.parent.stat().st_mode) == 0o700
    token = str(cli.config()["authToken"])
    assert token.count(".") == 2  # a JWT
    assert "authExpiresAt" in cli.config()

    me = cli.run("whoami")
    assert me.returncode == 0, me.stderr
    assert EMAIL in me.stdout
    assert "Admin" in me.stdout
    assert json.loads(cli.run("whoami", "--json").stdout)["user"]["email"] == EMAIL

    out = cli.run("logout")
    assert out.returncode == 0, out.stderr
    assert "authToken" not in cli.config()
    after = cli.run("whoami")
    assert after.returncode == 4
    line = one_line_error(after.stderr)
    assert "(unauthenticated, HTTP 401, request req_" in line
    assert line.endswith("Run `sophon login`.")
    assert after.stdout == ""


def test_the_logged_out_jwt_no_longer_works(cli: Cli, gateway: Gateway) -> None:
    cli.login()
    token = str(cli.config()["authToken"])
    assert cli.invoke("logout").code == 0
    import httpx

    response = httpx.get(f"{gateway.url}/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_login_prompts_for_email_and_password(cli: Cli) -> None:
    done = cli.invoke("login", stdin=f"{EMAIL}\n{PASSWORD}\n")
    assert done.code == 0, done.stderr
    assert PASSWORD not in done.stdout
    assert cli.invoke("whoami", "--json").code == 0


def test_bad_password_exits_4_and_stores_nothing(cli: Cli) -> None:
    done = cli.run("login", "--email", EMAIL, "--password-stdin", stdin="wrong-password\n")
    assert done.returncode == 4
    line = one_line_error(done.stderr)
    assert "(unauthenticated, HTTP 401, request req_" in line
    assert not cli.config_file.exists()


def test_login_with_an_api_token(cli: Cli, gateway: Gateway) -> None:
    made = gateway.api("POST", "/api/auth/tokens", json={"name": "cli"})
    assert made.status_code == 201, made.text
    secret = made.json()["token"]
    done = cli.invoke("login", "--token", secret)
    assert done.code == 0, done.stderr
    assert cli.config()["authToken"] == secret
    assert "authExpiresAt" not in cli.config()
    assert json.loads(cli.invoke("whoami", "--json").stdout)["authMethod"] != "jwt"
    assert cli.invoke("logout").code == 0  # an sk_ token is forgotten locally, not revoked
    assert gateway.api("GET", "/api/auth/tokens").json()["items"][0]["name"] == "cli"


def test_login_with_a_narrow_token_shows_what_it_may_do(cli: Cli, gateway: Gateway) -> None:
    body = {"name": "narrow", "permissions": ["ViewUsers", "ViewAgents"]}
    made = gateway.api("POST", "/api/auth/tokens", json=body)
    assert made.status_code == 201, made.text
    done = cli.invoke("login", "--token", made.json()["token"])
    assert done.code == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"Signed in to {cli.url} as {EMAIL} (Admin) in tenant default",
        "This token may: ViewAgents, ViewUsers",  # its subset, not everything Admin may
    ]
    me = cli.invoke("whoami")
    assert me.code == 0, me.stderr
    assert [line.split() for line in me.stdout.splitlines() if line.startswith("permissions")] == [
        ["permissions", "ViewAgents,", "ViewUsers"]
    ]


def test_bad_api_token_exits_4_and_stores_nothing(cli: Cli) -> None:
    done = cli.invoke("login", "--token", "sk_not-a-real-token")
    assert done.code == 4
    assert "HTTP 401" in one_line_error(done.stderr)
    assert not cli.config_file.exists()


def test_token_and_password_options_conflict(cli: Cli) -> None:
    done = cli.invoke("login", "--token", "sk_x", "--email", EMAIL)
    assert done.code == 2
    assert "--token cannot be combined" in one_line_error(done.stderr)
    assert not cli.config_file.exists()


def test_unreachable_gateway_exits_3(cli: Cli, nowhere: str) -> None:
    for args in (["health"], ["agents", "list"], ["--json", "whoami"]):
        done = cli.run(*args, "--gateway-url", nowhere)
        assert done.returncode == 3, done
        line = one_line_error(done.stderr)
        assert line.startswith(f"sophon: cannot reach the Gateway at {nowhere}")
        if "--json" in args:
            error = json.loads(done.stdout)["error"]
            assert error["code"] == "unreachable"
            assert error["message"] == line.removeprefix("sophon: ")
        else:
            assert done.stdout == ""


def test_json_errors_are_the_envelope_on_stdout_with_the_same_exit_codes(
    signed_in: Cli, gateway: Gateway
) -> None:
    assert signed_in.invoke("agents", "create", "--name", "json-twin").code == 0
    again = signed_in.run("agents", "create", "--name", "json-twin", "--json")
    assert again.returncode == 1
    error = json.loads(again.stdout)["error"]
    assert set(error) == {"code", "message", "details", "requestId"}
    assert error["code"] == "conflict"
    assert error["requestId"].startswith("req_")
    assert f"(conflict, HTTP 409, request {error['requestId']})" in one_line_error(again.stderr)
    names = [a["name"] for a in gateway.api("GET", "/api/agents").json()["items"]]
    assert names.count("json-twin") == 1

    missing = signed_in.invoke("--format", "json", "agents", "show", "agt_nope")
    assert missing.code == 1
    assert json.loads(missing.stdout)["error"]["code"] == "not_found"
    from_env = signed_in.invoke("sessions", "show", "sess_nope", SOPHON_FORMAT="json")
    assert from_env.code == 1
    assert json.loads(from_env.stdout)["error"]["code"] == "not_found"

    usage = signed_in.run("agents", "list", "--frob", "--json")
    assert usage.returncode == 2
    assert json.loads(usage.stdout) == {
        "error": {
            "code": "usage_error",
            "message": one_line_error(usage.stderr).removeprefix("sophon: "),
            "details": {},
            "requestId": None,
        }
    }
    plain = signed_in.invoke("agents", "show", "agt_nope")
    assert plain.code == 1
    assert plain.stdout == ""


def test_the_repl_without_a_gateway_says_so_at_once(cli: Cli, nowhere: str) -> None:
    done = cli.run("chat", "--gateway-url", nowhere, stdin="never sent\n")
    assert done.returncode == 3
    assert one_line_error(done.stderr) == (
        f"sophon: cannot reach the Gateway at {nowhere} (nothing listens at that address); "
        "start it with `sophon serve`, or pass --gateway-url"
    )
    assert done.stdout == ""


def test_unreachable_through_the_env_variable(cli: Cli, nowhere: str) -> None:
    done = cli.run("health", SOPHON_GATEWAY=nowhere)
    assert done.returncode == 3
    assert nowhere in one_line_error(done.stderr)


def test_a_malformed_gateway_url_is_a_usage_error(cli: Cli) -> None:
    done = cli.invoke("health", "--gateway-url", "localhost:8080")
    assert done.code == 2
    assert "must start with http://" in one_line_error(done.stderr)


def test_unknown_command_and_option_exit_2_with_one_line(cli: Cli) -> None:
    done = cli.run("frobnicate")
    assert done.returncode == 2
    assert one_line_error(done.stderr) == (
        "sophon: No such command 'frobnicate'. (see `sophon --help`)"
    )
    nested = cli.run("agents", "frobnicate")
    assert nested.returncode == 2
    assert "No such command 'frobnicate'" in one_line_error(nested.stderr)
    option = cli.run("agents", "list", "--frob")
    assert option.returncode == 2
    assert "No such option: --frob" in one_line_error(option.stderr)
    bad_format = cli.run("agents", "list", "--format", "xml")
    assert bad_format.returncode == 2
    assert "--format must be table, json or csv" in one_line_error(bad_format.stderr)


def test_no_arguments_prints_help(cli: Cli) -> None:
    done = cli.run()
    assert done.returncode == 0
    assert "Usage: sophon" in done.stdout
    assert "Exit codes" in done.stdout


def test_4xx_prints_the_envelope_message_and_request_id(signed_in: Cli, gateway: Gateway) -> None:
    before = gateway.api("GET", "/api/agents").json()["items"]
    made = signed_in.invoke("agents", "create", "--name", "twin")
    assert made.code == 0, made.stderr
    again = signed_in.invoke("agents", "create", "--name", "twin")
    assert again.code == 1
    line = one_line_error(again.stderr)
    assert "already exists" in line
    assert "(conflict, HTTP 409, request req_" in line
    assert len(gateway.api("GET", "/api/agents").json()["items"]) == len(before) + 1

    missing = signed_in.invoke("agents", "show", "agt_nope")
    assert missing.code == 1
    assert "(not_found, HTTP 404, request req_" in one_line_error(missing.stderr)

    invalid = signed_in.invoke("agents", "create", "--name", "x", "--model", "no spaces allowed")
    assert invalid.code == 1
    line = one_line_error(invalid.stderr)
    assert "validation_failed, HTTP 422" in line
    assert "body.model" in line
    names = [a["name"] for a in gateway.api("GET", "/api/agents").json()["items"]]
    assert "x" not in names


def test_a_client_sent_problem_does_not_reach_the_gateway(signed_in: Cli) -> None:
    done = signed_in.invoke("agents", "create", "--name", "t", "--temperature", "5")
    assert done.code == 2
    assert "--temperature" in one_line_error(done.stderr)


def test_forbidden_exits_4(cli: Cli, gateway: Gateway) -> None:
    made = gateway.api(
        "POST",
        "/api/admin/users",
        json={"email": "viewer@example.com", "displayName": "V", "password": PASSWORD,
              "roles": ["Viewer"], "mustChangePassword": False},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    assert cli.invoke("login", "--email", "viewer@example.com", "--password-stdin",
                      stdin=PASSWORD + "\n").code == 0  # fmt: skip
    done = cli.invoke("agents", "create", "--name", "nope")
    assert done.code == 4
    assert "(not_authorized, HTTP 403, request req_" in one_line_error(done.stderr)
    names = [a["name"] for a in gateway.api("GET", "/api/agents").json()["items"]]
    assert "nope" not in names
