"""A chat turn over the chat hub: the reply streams as it is written, tool calls show as they
start and finish, and approvals are asked inline the moment they are requested."""

from __future__ import annotations

import sys
import time
from typing import Any

from sophon.cli.chat_turn import Turn
from sophon.cli.core import CliError, fail
from sophon.cli.hub_client import ChatHub
from sophon.cli.runtime import Runtime

_ENDED = {"TaskCompleted", "TaskFailed", "TaskCancelled"}


class StreamTurn(Turn):
    streams = True

    def __init__(self, rt: Runtime, hub: ChatHub, *, interactive: bool, timeout: float) -> None:
        super().__init__(rt, interactive=interactive, timeout=timeout)
        self.hub = hub

    def run(self, content: str, agent: str | None, session: str | None) -> dict[str, Any]:
        body = {"content": content, "agentId": agent, "sessionId": session, "isStreaming": True}
        accepted = self.hub.invoke("SendMessage", {k: v for k, v in body.items() if v})
        task_id = accepted["taskId"]
        try:
            final = self._follow(task_id)
        except KeyboardInterrupt:
            sys.stdout.write("\n")
            self.cancel(task_id)
            raise
        return {**final, "sessionId": accepted["sessionId"], "taskId": task_id}

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
