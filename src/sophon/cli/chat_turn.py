"""A chat turn over REST: send the message, follow the task with long polls, ask for the
approvals it needs (inline on a terminal, else named on stderr), return the final message."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import typer

from sophon.cli.client import ApiError
from sophon.cli.cmd_approvals import approval_path, parse_arguments
from sophon.cli.cmd_sessions import session_path
from sophon.cli.cmd_tasks import task_path
from sophon.cli.errors import CliError, fail
from sophon.cli.listing import progress
from sophon.cli.runtime import Runtime

FINISHED = {"Completed", "Failed", "Cancelled"}
REFUSED = {"failed", "rejected", "skipped", "interrupted"}  # tool calls that did not do their job
_REASON_CHARS = 300
_WAIT_STEP = 2.0  # seconds per long poll; between polls, pending approvals are looked at


class Turn:
    """One message sent and followed to its end."""

    def __init__(self, rt: Runtime, *, interactive: bool, timeout: float) -> None:
        self.rt = rt
        self.interactive = interactive
        self.timeout = timeout
        self._asked: set[str] = set()
        self.refused: list[str] = []
        """The last turn's tool calls that were refused or failed, each in words."""

    def run(self, content: str, agent: str | None, session: str | None) -> dict[str, Any]:
        body = {"content": content, "agentId": agent, "sessionId": session}
        accepted = self.rt.api.post("/api/chat", json={k: v for k, v in body.items() if v})
        try:
            task = self._wait(accepted["taskId"])
        except KeyboardInterrupt:
            self.cancel(accepted["taskId"])
            raise
        if task["status"] != "Completed":
            reason = task.get("error") or task["status"].lower()
            fail(f"task {task['id']} {task['status'].lower()}: {reason}")
        self.refused = [
            f"tool call {call['name']} {call['status']}: "
            + " ".join(str(call.get("result") or "").split())[:_REASON_CHARS]
            for call in task.get("toolCalls") or []
            if call.get("status") in REFUSED
        ]
        return self._answer(accepted["sessionId"], task["id"])

    def cancel(self, task_id: str) -> None:
        """Best effort: the task may have finished meanwhile (409)."""
        try:
            self.rt.api.post(task_path(task_id, "/cancel"))
        except CliError as exc:
            self.rt.out.note(f"could not cancel {task_id}: {exc.message}")
        else:
            self.rt.out.note(f"Cancelled {task_id}.")

    def _wait(self, task_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        with progress(self.rt, "Thinking…"):
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    fail(
                        f"no answer within {self.timeout:g}s; the task goes on: "
                        f"`sophon tasks show {task_id} --wait 60`"
                    )
                step = min(left, _WAIT_STEP)
                task = self.rt.api.get(
                    task_path(task_id), params={"wait": round(step, 1)}, timeout=step + 30
                )
                if task["status"] in FINISHED:
                    return dict(task)
                for call in task.get("toolCalls") or []:
                    approval = call.get("approvalId")
                    if call.get("status") == "awaiting_approval" and approval not in self._asked:
                        self._asked.add(approval)
                        self._approval(approval)

    def _approval(self, approval_id: str) -> None:
        item = self.rt.api.get(approval_path(approval_id))
        summary = f"{item['toolName']} ({item['riskLevel']} risk): {item['preview']}"
        if not self.interactive:
            self.rt.out.note(
                f"Waiting for approval {approval_id}: {summary} — "
                f"`sophon approvals approve|reject {approval_id}`"
            )
            return
        sys.stderr.write(f"\nApproval needed: {summary}\n")
        choices = "[a]pprove / [r]eject" + (" / [e]dit" if item.get("editable") else "")
        while True:
            answer = _ask(choices).strip().lower()[:1]
            try:
                if answer == "a":
                    self.rt.api.post(approval_path(approval_id, "/approve"))
                elif answer == "r":
                    reason = _ask("Reason (optional)", default="")
                    rejection = {"reason": reason} if reason else {}
                    self.rt.api.post(approval_path(approval_id, "/reject"), json=rejection)
                elif answer == "e" and item.get("editable"):
                    shown = json.dumps(item["arguments"], ensure_ascii=False)  # typed back as is
                    sys.stderr.write(f"Arguments now: {shown}\n")
                    text = _ask("New arguments (JSON object)")
                    edited = {"arguments": parse_arguments(text)}
                    self.rt.api.post(approval_path(approval_id, "/edit"), json=edited)
                else:
                    continue
            except CliError as exc:
                sys.stderr.write(f"sophon: {exc.message}\n")
                if isinstance(exc, ApiError) and exc.status == 409:
                    return  # decided elsewhere, or expired
                continue
            return

    def _answer(self, session_id: str, task_id: str) -> dict[str, Any]:
        """The turn's last assistant message."""
        page = self.rt.api.page(session_path(session_id, "/messages"), limit=50, order="desc")
        for message in page.items:
            if message.get("role") == "assistant" and message.get("taskId") == task_id:
                return dict(message)
        raise CliError(f"task {task_id} finished without an answer in session {session_id}")


def _ask(text: str, default: str | None = None) -> str:
    """A prompt on stderr; Ctrl+C stays a KeyboardInterrupt (Click turns it into Abort), so the
    turn is cancelled like anywhere else."""
    try:
        return str(typer.prompt(text, default=default, err=True))
    except typer.Abort:
        raise KeyboardInterrupt from None
