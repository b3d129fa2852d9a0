"""`chat -m` scripting, sessions, tasks, approvals and ops, against a real Gateway."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import pytest

from tests.cli.conftest import Cli, Gateway, one_line_error
from tests.cli.repl_helpers import Terminal, chat_on_a_terminal, interrupt_when_reading

pytestmark = pytest.mark.slow
RUN_CODE = '/tool code.execute {"code": "print(6 * 7)"}'


@pytest.fixture(scope="module")
def coder(gateway: Gateway) -> str:
    """An agent allowed the High-risk code.execute tool (each call needs an approval)."""
    made = gateway.api("POST", "/api/agents", json={"name": "coder"})
    assert made.status_code == 201, made.text
    agent_id = str(made.json()["id"])
    tools = gateway.api(
        "PUT", f"/api/agents/{agent_id}/tools", json={"tools": ["code.execute", "datetime.now"]}
    )
    assert tools.status_code == 200, tools.text
    return agent_id


def test_chat_m_prints_the_answer(signed_in: Cli) -> None:
    done = signed_in.run("chat", "-m", "hello there")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "(offline echo model) You said: hello there\n"


def test_chat_m_json_prints_the_final_message_object(signed_in: Cli, gateway: Gateway) -> None:
    done = signed_in.run("chat", "-m", "hi json", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    message = json.loads(done.stdout)
    assert message["role"] == "assistant"
    assert message["content"] == "(offline echo model) You said: hi json"
    assert message["taskId"].startswith("task_")
    session = message["sessionId"]

    follow = json.loads(signed_in.run("chat", "-s", session, "-m", "again", "--json").stdout)
    assert follow["sessionId"] == session
    messages = json.loads(signed_in.invoke("sessions", "messages", session, "--json").stdout)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    task = json.loads(signed_in.invoke("tasks", "show", follow["taskId"], "--json").stdout)
    assert task["status"] == "Completed"
    recent = json.loads(signed_in.invoke("tasks", "recent", "--json").stdout)
    assert follow["taskId"] in [t["id"] for t in recent]


def test_chat_m_names_a_refused_tool_call_on_stderr_and_exits_5(signed_in: Cli) -> None:
    refused = signed_in.run("chat", "-m", '/tool os.execute_sandboxed {"command": "true"}')
    assert refused.returncode == 5, refused.stderr
    assert refused.stdout.startswith("(offline echo model) Tool results: os.execute_sandboxed")
    assert refused.stderr == (
        "sophon: tool call os.execute_sandboxed failed: "
        "The tool os.execute_sandboxed is not available to this agent.\n"
    )
    # a fresh install's default agent has the low-risk built-ins: the time is a tool call away
    clock = signed_in.run("chat", "-m", "/tool datetime.now {}")
    assert clock.returncode == 0, clock.stderr
    assert clock.stdout.startswith("(offline echo model) Tool results: datetime.now: ")
    assert clock.stderr == ""


def test_chat_with_an_agent_by_name(signed_in: Cli, coder: str) -> None:
    message = json.loads(signed_in.invoke("chat", "-a", "coder", "-m", "yo", "--json").stdout)
    session = json.loads(
        signed_in.invoke("sessions", "show", message["sessionId"], "--json").stdout
    )
    assert session["agentId"] == coder
    unknown = signed_in.invoke("chat", "-a", "nobody", "-m", "yo")
    assert unknown.code == 1
    assert one_line_error(unknown.stderr) == "sophon: no agent named 'nobody'"


def test_chat_errors(signed_in: Cli, cli: Cli) -> None:
    missing = signed_in.invoke("chat", "-s", "sess_nope", "-m", "x")
    assert missing.code == 1
    assert "(not_found, HTTP 404, request req_" in one_line_error(missing.stderr)
    empty = signed_in.invoke("chat", "-m", "")
    assert empty.code == 1
    assert "validation_failed, HTTP 422" in one_line_error(empty.stderr)


def test_sessions_fork_and_delete(signed_in: Cli) -> None:
    message = json.loads(signed_in.invoke("chat", "-m", "fork me", "--json").stdout)
    session = message["sessionId"]
    listed = json.loads(signed_in.invoke("sessions", "list", "--json").stdout)
    assert session in [s["id"] for s in listed]
    fork = json.loads(signed_in.invoke("sessions", "fork", session, "--json").stdout)
    assert fork["parentSessionId"] == session
    assert fork["messageCount"] == 2
    table = signed_in.invoke("sessions", "messages", fork["id"])
    assert "fork me" in table.stdout
    assert signed_in.invoke("sessions", "delete", session).code == 0
    gone = signed_in.invoke("sessions", "show", session)
    assert gone.code == 1
    assert "not_found" in one_line_error(gone.stderr)


def test_approval_named_on_stderr_and_rejected_from_another_command(
    signed_in: Cli, coder: str
) -> None:
    chat = subprocess.Popen(
        [sys.executable, "-m", "sophon", "chat", "-a", coder, "-m", RUN_CODE, "--json"],
        env=signed_in.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert chat.stderr is not None
        note = Terminal(chat.stderr.fileno()).read_until(b"`\n").decode()
        pending = [a for a in json.loads(signed_in.invoke("approvals", "list", "--json").stdout)
                   if a["agentId"] == coder and a["status"] == "Pending"]  # fmt: skip
        approval = pending[0]
        assert note.startswith(f"Waiting for approval {approval['id']}: code.execute (High risk)")
        assert approval["toolName"] == "code.execute"
        shown = signed_in.invoke("approvals", "show", approval["id"])
        assert "print(6 * 7)" in shown.stdout
        bad_edit = signed_in.invoke("approvals", "edit", approval["id"], "-a", "[1]")
        assert bad_edit.code == 2
        assert "must be a JSON object" in one_line_error(bad_edit.stderr)
        rejected = signed_in.invoke("approvals", "reject", approval["id"], "--reason", "not now")
        assert rejected.code == 0, rejected.stderr
        assert rejected.stdout.strip() == f"{approval['id']} (code.execute): Rejected"
        out, err = chat.communicate(timeout=60)
    finally:
        chat.kill()
        chat.wait()
    assert chat.returncode == 5, err
    assert err.endswith(
        b"sophon: tool call code.execute rejected: The user rejected this call: not now\n"
    )
    answer = json.loads(out)
    assert answer["role"] == "assistant"
    assert "rejected" in answer["content"].lower()
    again = signed_in.invoke("approvals", "approve", approval["id"])
    assert again.code == 1
    assert "(conflict, HTTP 409, request req_" in one_line_error(again.stderr)
    history = json.loads(signed_in.invoke("approvals", "history", "--json").stdout)
    assert approval["id"] in [a["id"] for a in history]


def test_repl_streams_tool_calls_and_asks_approvals_inline(signed_in: Cli, coder: str) -> None:
    """The REPL on a pseudo-terminal, over the chat hub: tool calls show as they start and end
    (events only the hub carries), and a call that needs an approval asks inline; `r` rejects."""
    with chat_on_a_terminal(signed_in, coder) as (proc, term):
        banner = term.read_until(b"you> ")
        assert b"No streaming" not in banner
        term.type(b"/tool datetime.now {}")
        streamed = term.read_until(b"you> ")
        assert b"\xe2\x80\xa6 datetime.now\r\n" in streamed  # "… datetime.now" as it starts
        assert b"\xe2\x80\xa6 datetime.now done (" in streamed
        term.type(RUN_CODE.encode())
        prompt = term.read_until(b"[a]pprove / [r]eject / [e]dit")
        assert b"Approval needed: code.execute (High risk)" in prompt
        term.type(b"r")
        term.read_until(b"Reason (optional)")
        term.type(b"too risky")
        answer = term.read_until(b"you> ")
        assert b"rejected" in answer.lower(), answer
        term.type(b"/exit")
        assert proc.wait(timeout=30) == 0


def test_tasks_active_and_cancel(signed_in: Cli, gateway: Gateway) -> None:
    paused = signed_in.invoke("ops", "pause", "--json")
    assert json.loads(paused.stdout) == {"processing": "paused"}
    try:
        accepted = gateway.api("POST", "/api/chat", json={"content": "queued while paused"})
        assert accepted.status_code == 202, accepted.text
        task_id = accepted.json()["taskId"]
        active = json.loads(signed_in.invoke("tasks", "active", "--json").stdout)
        assert task_id in [t["id"] for t in active]
        cancelled = signed_in.invoke("tasks", "cancel", task_id)
        assert cancelled.code == 0, cancelled.stderr
        assert cancelled.stdout.strip() == f"Task {task_id}: Cancelled"
        again = signed_in.invoke("tasks", "cancel", task_id)
        assert again.code == 1
        assert "conflict" in one_line_error(again.stderr)
    finally:
        assert signed_in.invoke("ops", "resume").stdout.strip() == "Processing: running"
    health = signed_in.invoke("ops", "health", "--json")
    assert health.code == 0
    assert json.loads(health.stdout)["status"] == "healthy"


def test_repl_from_a_pipe_with_new_and_agent(signed_in: Cli, coder: str) -> None:
    script = "first\n/new\nsecond\n/agent coder\nthird\n/agent nobody\n/exit\nnot sent\n"
    done = signed_in.run("chat", stdin=script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "(offline echo model) You said: first",
        "(offline echo model) You said: second",
        "(offline echo model) You said: third",
    ]
    assert "sophon: no agent named 'nobody'" in done.stderr
    sessions = json.loads(signed_in.invoke("sessions", "list", "--json", "--limit", "3").stdout)
    assert [s["title"] for s in sessions] == ["third", "second", "first"]
    assert sessions[0]["agentId"] == coder
    assert sessions[1]["agentId"] != coder


def test_ctrl_c_cancels_the_turn_and_a_second_press_exits(signed_in: Cli, coder: str) -> None:
    with chat_on_a_terminal(signed_in, coder) as (proc, term):
        term.read_until(b"you> ")
        term.type(RUN_CODE.encode())
        term.read_until(b"[a]pprove")  # the turn is running, parked on its approval
        interrupt_when_reading(proc)
        cancelled = term.read_until(b"(Ctrl+C again to exit)")
        assert b"Cancelled task_" in cancelled
        task_id = cancelled.split(b"Cancelled ", 1)[1].split(b".", 1)[0].decode()
        term.read_until(b"you> ")
        term.type(b"hello")  # a message sent disarms the exit
        term.read_until(b"You said: hello")
        term.read_until(b"you> ")
        interrupt_when_reading(proc)
        term.read_until(b"(Ctrl+C again to exit)")
        interrupt_when_reading(proc)  # nothing sent since the last press: leave
        assert proc.wait(timeout=30) == 0
    task = json.loads(signed_in.invoke("tasks", "show", task_id, "--json").stdout)
    assert task["status"] == "Cancelled"


LEFT, UP = b"\x1b[D", b"\x1b[A"


def test_repl_edits_lines_and_keeps_a_history(signed_in: Cli, coder: str) -> None:
    """Arrow keys move in the line and recall earlier lines, in this session and the next."""
    history = signed_in.home / "config" / "chat_history"
    with chat_on_a_terminal(signed_in, coder) as (proc, term):
        term.read_until(b"you> ")
        term.type(b"hello wrld" + LEFT * 3 + b"o")
        term.read_until(b"You said: hello world\r\n")
        term.read_until(b"you> ")
        term.type(UP)
        term.read_until(b"You said: hello world\r\n")
        term.read_until(b"you> ")
        term.type(b"/exit")
        assert proc.wait(timeout=30) == 0
    assert history.read_text().splitlines()[-3:] == ["hello world", "hello world", "/exit"]
    assert stat.S_IMODE(history.stat().st_mode) == 0o600

    with chat_on_a_terminal(signed_in, coder) as (proc, term):
        term.read_until(b"you> ")
        term.type(UP * 2)  # past /exit, to the line before it
        term.read_until(b"You said: hello world\r\n")
        term.read_until(b"you> ")
        term.type(b"/exit")
        assert proc.wait(timeout=30) == 0


def test_repl_edit_prompt_takes_the_arguments_as_shown(signed_in: Cli, coder: str) -> None:
    with chat_on_a_terminal(signed_in, coder) as (proc, term):
        term.read_until(b"you> ")
        term.type(RUN_CODE.encode())
        term.read_until(b"[a]pprove / [r]eject / [e]dit")
        term.type(b"e")
        term.read_until(b"Arguments now: ")
        shown = term.read_until(b"\r\n").removesuffix(b"\r\n")
        assert json.loads(shown)["code"] == "print(6 * 7)"
        term.read_until(b"New arguments (JSON object)")
        term.type(shown)  # typed back exactly as shown
        term.read_until(b"you> ", timeout=60)
        term.type(b"/exit")
        assert proc.wait(timeout=30) == 0
    decided = json.loads(signed_in.invoke("approvals", "history", "--json").stdout)[0]
    assert decided["toolName"] == "code.execute"
    edited = json.loads(shown)
    assert {k: decided["approvedArguments"].get(k) for k in edited} == edited
    assert decided["status"] != "Rejected"
