"""Documents in the agent loop: the documents attached to a chat message (`POST /api/chat`
`attachments`) are put in that turn's context, each inside the external-content wrapper (source
`Document:<name>`), so what a document says is data, never instructions. The turn was held
until they were Ready or Failed (or the wait ran out): one that failed, or is still on its way,
is said so plainly instead."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.documents import service as documents
from sophon.documents.chunking import full_text
from sophon.documents.schemas import Status
from sophon.runtime import external, hooks

CONTEXT_CHARS = 24_000  # of all attached documents together


async def attached_documents(db: AsyncSession, turn: hooks.TurnInfo) -> tuple[str, str] | None:
    if not turn.attached:
        return None  # a message without attachments: no lookup
    found = await documents.attached(db, turn.task_id)
    if not found:
        return None
    share = CONTEXT_CHARS // len(found)
    parts = []
    for document in found:
        head = f"{document.name} (id {document.id}, {document.pages or 0} pages)"
        if document.status == Status.FAILED.value:
            parts.append(
                f"{head}: could not be read, its processing failed "
                f"({document.error_code}: {document.error}). Tell the user so plainly; "
                "do not guess what it says."
            )
            continue
        if document.status != Status.READY.value:
            parts.append(
                f"{head}: not readable yet (still {document.status} after waiting for it). "
                "Tell the user so; document.read may work later."
            )
            continue
        text = full_text(await documents.text_of(db, document.id))
        cut = text[:share]
        more = (
            f"\n[… {len(text) - len(cut)} more characters: use document.read or document.search]"
            if len(cut) < len(text)
            else ""
        )
        parts.append(f"{head}:\n{external.wrap(cut, f'Document:{document.name}')}{more}")
    return "Documents attached to this message", "\n\n".join(parts)


def install() -> None:
    """Registers the hook once per process."""
    hooks.context_hooks[:] = [h for h in hooks.context_hooks if h.__module__ != __name__]
    hooks.context_hooks.append(attached_documents)
