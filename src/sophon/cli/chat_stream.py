"""A chat turn over the chat hub: the reply streams as it is written, tool calls show as they
start and finish, and approvals are asked inline the moment they are requested. When the
connection is lost (the Gateway stopped or restarted), it reconnects with backoff, saying so."""

from __future__ import annotations

import sys
import time
from typing import Any

from sophon.cli.chat_turn import Turn
from sophon.cli.client import Unreachable
from sophon.cli.errors import EXIT_AUTH, CliError, fail
from sophon.cli.hub_client import ChatHub, HubClosed, NotSent
from sophon.cli.runtime import Runtime

_ENDED = {"TaskCompleted", "TaskFailed", "TaskCancelled"}
FIRST_RETRY, LONGEST_RETRY = 0.5, 10.0  # seconds between reconnection attempts, doubling
GIVE_UP_AFTER = 300.0  # seconds without the Gateway before the REPL stops trying


class StreamTurn(Turn):
    streams = True

    def __init__(self, rt: Runtime, hub: ChatHub, *, interactive: bool, timeout: float) -> None:
        super().__init__(rt, interactive=interactive, timeout=timeout)
        self.hub = hub

    def run(self, content: str, agent: str | None, session: str | None) -> dict[str, Any]:
        body = {"content": content, "agentId": agent, "sessionId": session, "isStreaming": True}
        accepted = self._send({k: v for k, v in body.items() if v})
        task_id = accepted["taskId"]
        try:
            try:
                final = self._follow(task_id)
            except HubClosed as lost:
                self._reconnect(lost.reason)
                final = self._finish_over_rest(task_id)
        except KeyboardInterrupt:
            sys.stdout.write("\n")
            self.cancel(task_id)
            raise
        return {**final, "sessionId": accepted["sessionId"], "taskId": task_id}

    def _send(self, body: dict[str, Any]) -> dict[str, Any]:
        """SendMessage, reconnecting first when the connection is gone; a message that did not
        go out is sent again, one whose receipt is unknown is not (it could run twice)."""
        while True:
            if self.hub.closed:
                self._reconnect(self.hub.lost_reason)
            try:
                return dict(self.hub.invoke("SendMessage", body))
            except NotSent:
                continue
            except HubClosed as lost:
                self._reconnect(lost.reason)
                fail("the connection dropped while sending: the message may not have arrived; "
                     "`sophon sessions messages SESSION` shows it if it did")  # fmt: skip

    def _reconnect(self, reason: str) -> None:
        """A new connection, trying again with doubling pauses (Ctrl+C stops); gives up with
        exit 3 after GIVE_UP_AFTER seconds, or at once when the sign-in is refused."""
        self._say(f"Lost the connection to the Gateway ({reason.rstrip('.')}). Reconnecting…")
        pause, deadline = FIRST_RETRY, time.monotonic() + GIVE_UP_AFTER
        while True:
            try:
                hub = ChatHub(self.rt.gateway_url, self.rt.config.get("authToken"))
            except HubClosed as refused:
                if refused.exit_code == EXIT_AUTH:
                    raise
                if time.monotonic() + pause > deadline:
                    raise Unreachable(
                        f"the Gateway at {self.rt.gateway_url} did not come back within "
                        f"{GIVE_UP_AFTER:g} s ({refused.reason})"
                    ) from None
                self._say(f"Not back yet ({refused.reason}); trying again in {pause:g} s "
                          "(Ctrl+C to stop).")  # fmt: skip
                time.sleep(pause)
                pause = min(pause * 2, LONGEST_RETRY)
                continue
            self.hub.close()
            self.hub = hub
            self._say("Reconnected.")
            return

    def _finish_over_rest(self, task_id: str) -> dict[str, Any]:
        """The turn whose events were lost with the connection, followed to its end over REST;
        its answer is printed whole (any part streamed before is repeated)."""
        task = self._wait(task_id)
        if task["status"] != "Completed":
            fail(f"task {task_id} {task['status'].lower()}: "
                 f"{task.get('error') or task['status'].lower()}")  # fmt: skip
        return {**self._answer(str(task["sessionId"]), task_id), "streamed": False}

    def _say(self, text: str) -> None:
        sys.stdout.flush()
        sys.stderr.write(f"{text}\n")
        sys.stderr.flush()

    def _follow(self, task_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        streamed, final = False, None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                fail(f"no answer within {self.timeout:g}s; the task goes on: "
                     f"`sophon tasks show {task_id} --wait 60`")  # fmt: skip
            got = self.hub.event(timeout=min(left, 1.0))
            if got is None:
                continue
            name, payload = got
            if payload.get("taskId") != task_id:
                continue
            if name == "StreamChunk":
                if payload.get("delta"):
                    sys.stdout.write(str(payload["delta"]))
                    sys.stdout.flush()
                    streamed = True
            elif name == "ToolCallStarted":
                self._line(f"… {payload.get('toolName')}")
            elif name == "ToolCallCompleted":
                mark = "done" if payload.get("ok") else "failed"
                self._line(f"… {payload.get('toolName')} {mark} ({payload.get('durationMs')} ms)")
            elif name == "ApprovalRequested" and payload.get("id") not in self._asked:
                self._asked.add(str(payload["id"]))
                self._approval(str(payload["id"]))
            elif name == "AgentStatus" and payload.get("status") == "waiting_approval":
                self._pending_approvals(task_id)
            elif name == "ReceiveMessage" and payload.get("role") == "assistant":
                final = payload
            elif name in _ENDED:
                if streamed:
                    sys.stdout.write("\n")
                    sys.stdout.flush()
                if name != "TaskCompleted":
                    reason = payload.get("error") or name.removeprefix("Task").lower()
                    raise CliError(f"task {task_id}: {reason}")
                if final is None:
                    final = self._answer_of(task_id)
                return {**final, "id": final.get("messageId", final.get("id")),
                        "streamed": streamed}  # fmt: skip

    def _pending_approvals(self, task_id: str) -> None:
        """The status event says the task waits; its tool calls name the approvals."""
        task = self.rt.api.get(f"/api/tasks/{task_id}")
        for call in task.get("toolCalls") or []:
            approval = call.get("approvalId")
            if call.get("status") == "awaiting_approval" and approval not in self._asked:
                self._asked.add(approval)
                self._approval(approval)

    def _line(self, text: str) -> None:
        sys.stdout.flush()
        sys.stderr.write(f"\n{text}\n")
        sys.stderr.flush()

    def _answer_of(self, task_id: str) -> dict[str, Any]:
        task = self.rt.api.get(f"/api/tasks/{task_id}")
        return self._answer(str(task["sessionId"]), task_id)
