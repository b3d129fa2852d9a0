"""`sophon chat`: `-m` sends one message, waits for the task and prints the answer (scriptable);
without `-m`, a REPL whose replies stream over the chat hub (over REST polling, unstreamed, when
the hub is unavailable). Approvals a turn needs are asked inline on a terminal."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import Annotated

import typer

from sophon.cli.chat_stream import StreamTurn
from sophon.cli.chat_turn import Turn
from sophon.cli.client import Unreachable
from sophon.cli.cmd_agents import agent_id
from sophon.cli.errors import EXIT_ERROR, EXIT_TOOL_REFUSED, EXIT_UNREACHABLE, CliError
from sophon.cli.hub_client import ChatHub, HubClosed
from sophon.cli.line_input import LineInput
from sophon.cli.runtime import Runtime, runtime


def chat(
    message: Annotated[
        str | None, typer.Option("--message", "-m", help="Send one message, print the answer.")
    ] = None,
    session: Annotated[
        str | None, typer.Option("--session", "-s", help="Continue this session.")
    ] = None,
    agent: Annotated[str | None, typer.Option("--agent", "-a", help="Agent id or name.")] = None,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for each answer.")] = 300.0,
) -> None:
    """Chat with an agent: `-m` for one scripted turn (`--json`: the final message object; exit
    code 5 when a tool call of the turn was refused, rejected, failed or interrupted)."""
    rt = runtime()
    chosen = agent or (rt.config.stored.get("defaultAgent") if not session else None)
    agent_ref = agent_id(chosen) if chosen else None
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    turn = Turn(rt, interactive=interactive, timeout=timeout)
    if message is not None:
        answer = turn.run(message, agent_ref, session)
        if rt.format == "json":
            rt.out.raw_json(answer)
        else:
            rt.out.text(answer["content"])
        if turn.refused:  # the answer stands, but a script must not take it for a full success
            sys.stderr.write("".join(f"sophon: {line}\n" for line in turn.refused))
            raise typer.Exit(EXIT_TOOL_REFUSED)
        return
    hub = _connect_hub(rt)
    if hub is None:
        _repl(rt, turn, agent_ref, session)
        return
    streaming = StreamTurn(rt, hub, interactive=interactive, timeout=timeout)
    try:
        _repl(rt, streaming, agent_ref, session)
    finally:
        _quietly(lambda: streaming.hub.close())  # a reconnection replaces the hub


def _ignore_interrupts() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _quietly(action: Callable[[], None]) -> None:
    """Runs a clean-up with Ctrl+C ignored: a late press must not cut a close in half."""
    if threading.current_thread() is not threading.main_thread():
        action()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        action()
    finally:
        signal.signal(signal.SIGINT, previous)


def _connect_hub(rt: Runtime) -> ChatHub | None:
    """The chat hub for streaming; None (with a note) when this Gateway has none or refuses."""
    try:
        return ChatHub(rt.gateway_url, rt.config.get("authToken"))
    except HubClosed as exc:
        if exc.exit_code == EXIT_UNREACHABLE:
            raise Unreachable(
                f"cannot reach the Gateway at {rt.gateway_url} ({exc.reason}); "
                "start it with `sophon serve`, or pass --gateway-url"
            ) from None
        rt.out.note(f"No streaming ({exc.reason}); answers appear when complete.")
        return None


def _repl(rt: Runtime, turn: Turn, agent: str | None, session: str | None) -> None:
    sys.stderr.write(
        "Type a message; /new starts a new session, /agent NAME switches, /exit leaves. "
        "Ctrl+C cancels a running answer; pressed again before the next message, it exits.\n"
    )
    armed = False  # a Ctrl+C was pressed and nothing sent since: the next one leaves
    lines = LineInput(sys.stdin.isatty())
    while True:
        try:
            line = lines.read("you> " if sys.stdin.isatty() else "")
            armed = False
            text = line.strip()
            if not text:
                continue
            if text in ("/exit", "/quit"):
                return
            if text == "/new":
                session = None
                sys.stderr.write("New session.\n")
                continue
            if text.startswith("/agent"):
                agent, session = _switch_agent(text.removeprefix("/agent").strip(), agent, session)
                continue
            answer = turn.run(text, agent if session is None else None, session)
        except EOFError:
            return
        except KeyboardInterrupt:
            try:
                if armed:
                    _ignore_interrupts()  # leaving: a third press must not cut the clean-up
                    return
                armed = True
                sys.stderr.write("\n(Ctrl+C again to exit)\n")
            except KeyboardInterrupt:
                _ignore_interrupts()
                return  # the second press landed while the first was being handled
            continue
        except CliError as exc:
            if exc.exit_code != EXIT_ERROR:
                raise  # unreachable or signed out: the session cannot go on
            sys.stderr.write(f"sophon: {exc.message}\n")
            continue
        session = answer["sessionId"]
        if rt.format == "json":
            rt.out.raw_json(answer)
        elif not answer.get("streamed"):
            rt.out.text(answer["content"])


def _switch_agent(
    name: str, agent: str | None, session: str | None
) -> tuple[str | None, str | None]:
    if not name:
        sys.stderr.write("Usage: /agent NAME\n")
        return agent, session
    try:
        chosen = agent_id(name)
    except CliError as exc:
        sys.stderr.write(f"sophon: {exc.message}\n")
        return agent, session
    sys.stderr.write(f"Talking to {name} in a new session.\n")
    return chosen, None
