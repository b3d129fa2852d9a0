"""Chat in the browser: a reply streamed token by token over /hubs/chat from the loopback
OpenAI-compatible server, cancel of a running turn, Markdown that cannot run script, and a tool
call waiting for approval, approved inline, a document attached from the composer reaching the
turn, and the session search finding a session beyond the first page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.identity_helpers import Caller
from tests.llm.fakes import OPENAI_DONE, FakeServer, SseReply, openai_chunk
from tests.web.dashboard import TIMEOUT, Dashboard, allow_tools, call

CHAT = "/v1/chat/completions"


def streamed(*pieces: str, hold_open: bool = False) -> SseReply:
    chunks = [openai_chunk({"content": piece}) for piece in pieces]
    if hold_open:
        return SseReply(chunks, hold_open=True)
    tail = [openai_chunk({}, finish_reason="stop"), openai_chunk(usage=(30, 5)), OPENAI_DONE]
    return SseReply([*chunks, *tail])


async def _model(signed_in: Dashboard, admin: Caller, fake_server: FakeServer) -> None:
    fake_server.reset()
    await allow_tools(signed_in.live, admin)
    await call(
        signed_in.live, admin, "POST", "/api/models/providers",
        name="loopback", type="openai", baseUrl=f"{fake_server.url}/v1", apiKey="sk-test",
        models=[{"id": "gpt-test"}], defaultModel="gpt-test",
    )  # fmt: skip


async def _send(board: Dashboard, text: str) -> None:
    await board.page.get_by_label("Message").fill(text)
    await board.page.get_by_role("button", name="Send").click()


async def test_a_streamed_reply_cancel_and_a_finished_reply(
    signed_in: Dashboard, web_admin: Caller, fake_server: FakeServer
) -> None:
    await _model(signed_in, web_admin, fake_server)
    fake_server.script("POST", CHAT, streamed("Partial ", "answer", hold_open=True))
    fake_server.script("POST", CHAT, streamed("Hello", " from", " the **model**."))
    page = signed_in.page
    await signed_in.go("Chat")
    await expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible(timeout=TIMEOUT)

    await _send(signed_in, "Tell me something")
    replying = page.get_by_role("article", name="Agent (replying)")
    await expect(replying).to_contain_text("Partial answer", timeout=TIMEOUT)  # mid-stream
    assert re.search(r"/chat/sess_\w+$", page.url)
    await page.get_by_role("button", name="Cancel").click()
    await expect(page.get_by_text("The turn was cancelled.")).to_be_visible(timeout=TIMEOUT)
    await expect(replying).to_have_count(0)

    await _send(signed_in, "Again, please")
    reply = page.get_by_role("article", name="Agent", exact=True).last
    await expect(reply).to_contain_text("Hello from the model.", timeout=TIMEOUT)
    await expect(reply.locator("strong")).to_have_text("model")
    await expect(page.get_by_role("article", name="You")).to_have_count(2)
    # the session is in the list, and a reload shows the same conversation
    await page.reload()
    await expect(page.get_by_role("article", name="Agent", exact=True).last).to_contain_text(
        "Hello from the model.", timeout=TIMEOUT
    )
    assert signed_in.browser.errors == []


async def test_markdown_from_the_model_runs_no_script(
    signed_in: Dashboard, web_admin: Caller, fake_server: FakeServer
) -> None:
    await _model(signed_in, web_admin, fake_server)
    hostile = (
        'Look: <img src=x onerror="window.__xss=1"> <script>window.__xss=2</script>\n\n'
        "[click me](javascript:window.__xss=3) and "
        '<a href="javascript:window.__xss=4">raw</a>\n\n'
        "![pic](javascript:window.__xss=5)\n\n```html\n<img src=x onerror=window.__xss=6>\n```"
    )
    fake_server.script("POST", CHAT, streamed(hostile[:40], hostile[40:]))
    page = signed_in.page
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    await signed_in.go("Chat")
    await _send(signed_in, "Say something dangerous")
    reply = page.get_by_role("article", name="Agent", exact=True).last
    await expect(reply).to_contain_text("Look:", timeout=TIMEOUT)
    await expect(reply.locator("pre code")).to_contain_text("onerror")  # shown as code
    link = reply.get_by_text("click me")
    await link.click()
    assert await reply.locator("img").count() == 0
    assert await reply.locator("script").count() == 0
    hrefs = await reply.locator("a").evaluate_all("links => links.map(a => a.href)")
    assert all(h.startswith(("http", "mailto")) for h in hrefs), hrefs
    assert await page.evaluate("window.__xss") is None
    assert dialogs == []


async def test_a_tool_call_approved_from_the_chat(signed_in: Dashboard, web_admin: Caller) -> None:
    await allow_tools(signed_in.live, web_admin, "code.*")  # the offline echo model calls it
    page = signed_in.page
    await signed_in.go("Chat")
    await _send(signed_in, '/tool code.execute {"code": "print(6 * 7)"}')
    approval = page.get_by_role("region", name="Approval for code.execute")
    await expect(approval).to_contain_text("print(6 * 7)", timeout=TIMEOUT)
    await expect(approval).to_contain_text("High")
    await approval.get_by_role("button", name="Approve").click()
    card = page.locator("details.tool-call").filter(has_text="code.execute")
    await expect(card).to_contain_text("completed", timeout=30_000)
    await card.locator("summary").click() if not await card.get_attribute("open") else None
    await expect(card.locator("pre.result")).to_contain_text("42", timeout=TIMEOUT)
    history = await call(signed_in.live, web_admin, "GET", "/api/approvals/history")
    assert [a["status"] for a in history["items"]] == ["Approved"]
    assert signed_in.browser.errors == []


async def test_a_document_attached_in_the_chat_reaches_the_turn(
    signed_in: Dashboard, web_admin: Caller, fake_server: FakeServer, tmp_path: Path
) -> None:
    await _model(signed_in, web_admin, fake_server)
    fake_server.script("POST", CHAT, streamed("The code is 4711."))
    notes = tmp_path / "launch-notes.txt"
    notes.write_text("The launch code for the heron project is 4711.\n")
    page = signed_in.page
    await signed_in.go("Chat")
    await page.get_by_label("Attach documents").set_input_files(str(notes))
    chip = page.get_by_role("list", name="Attachments").get_by_role("listitem")
    await expect(chip.get_by_text("Ready")).to_be_visible(timeout=TIMEOUT)
    await _send(signed_in, "What is the launch code?")
    reply = page.get_by_role("article", name="Agent", exact=True).last
    await expect(reply).to_contain_text("The code is 4711.", timeout=TIMEOUT)
    mine = page.get_by_role("article", name="You").last
    await expect(mine.get_by_role("link", name="launch-notes.txt")).to_be_visible()
    await expect(page.get_by_role("list", name="Attachments")).to_have_count(0)
    (request,) = fake_server.received(CHAT)
    prompt = request.body.decode()
    assert "4711" in prompt
    assert 'source=\\"Document:launch-notes.txt\\"' in prompt  # inside the external-content wrapper
    assert signed_in.browser.errors == []


@pytest.mark.shared_gateway
async def test_session_search_reaches_past_the_first_page(
    signed_in: Dashboard, web_admin: Caller
) -> None:
    live = signed_in.live
    # a session (its turn fails: no model is configured here), then 55 newer ones forked from it
    accepted = await call(live, web_admin, "POST", "/api/chat", content="A haystack")
    task = await call(live, web_admin, "GET", f"/api/tasks/{accepted['taskId']}?wait=30")
    assert task["status"] in {"Failed", "Completed"}
    oldest = accepted["sessionId"]
    for _ in range(55):
        await call(live, web_admin, "POST", f"/api/sessions/{oldest}/fork")
    await call(live, web_admin, "PATCH", f"/api/sessions/{oldest}", title="needle session")

    page = signed_in.page
    await signed_in.open("/chat")
    sessions = page.get_by_role("list", name="Sessions")
    await expect(sessions.get_by_role("link")).to_have_count(50, timeout=TIMEOUT)  # one page
    await page.get_by_label("Search sessions").fill("needle")
    await expect(sessions.get_by_role("link")).to_have_count(1, timeout=TIMEOUT)
    await sessions.get_by_role("link", name=re.compile("needle session")).click()
    await expect(page.get_by_role("heading", name="needle session")).to_be_visible(timeout=TIMEOUT)

    await page.get_by_label("Search sessions").fill("")
    await page.get_by_role("button", name="Load more").click()
    await expect(sessions.get_by_role("link")).to_have_count(56, timeout=TIMEOUT)
    assert signed_in.browser.errors == []
