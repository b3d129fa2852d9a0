"""The internal "credentials revoked" event: published after commit whenever a user's sign-in
session or API token is revoked, or the user is suspended, removed or has their roles changed,
so the hubs re-check that user's live connections at once (on every replica). No hub forwards
it to clients: its audience admits nobody."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.platform.events import BUS_INFO_KEY, Audience, Event, after_commit
from sophon.platform.tenancy import session_tenant

CREDENTIALS_REVOKED = "CredentialsRevoked"


def credentials_revoked(db: AsyncSession, user_id: str | None, reason: str) -> None:
    """Queues the event on the transaction; a session without a bus (a local CLI command, no
    Gateway running in this process) has no connections to tell."""
    if user_id is None or db.sync_session.info.get(BUS_INFO_KEY) is None:
        return
    event = Event(
        CREDENTIALS_REVOKED,
        {"userId": user_id, "reason": reason},
        tenant_id=session_tenant(db.sync_session),
        audience=Audience(),
    )
    after_commit(db, event)
