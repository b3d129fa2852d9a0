"""users.email in its normalised form; audit_entries.key_id (the keyed audit chain)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 10:30:00.000000

Emails were stored lower-cased only; they are now NFKC case-folded everywhere, so rows are brought
to that form. Two accounts that become one address can't both keep it: the upgrade stops and names
them, to be merged or renamed by hand first. Audit entries written before the audit key existed
keep `key_id` NULL; the first start with a key seals each such chain once (see `audit.chain`).
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _normalized(email: str) -> str:  # as sophon.platform.emails.normalize_email, frozen here
    folded = unicodedata.normalize("NFKC", email.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)


def upgrade() -> None:
    conn = op.get_bind()
    users = sa.table("users", sa.column("id", sa.String), sa.column("email", sa.String))
    rows = conn.execute(sa.select(users.c.id, users.c.email)).all()
    owners: dict[str, list[str]] = {}
    for user_id, email in rows:
        owners.setdefault(_normalized(email), []).append(user_id)
    clashes = {email: ids for email, ids in owners.items() if len(ids) > 1}
    if clashes:
        named = "; ".join(f"{email}: {', '.join(ids)}" for email, ids in sorted(clashes.items()))
        raise RuntimeError(f"accounts whose emails differ only in case or Unicode form: {named}")
    for user_id, email in rows:
        if _normalized(email) != email:
            conn.execute(
                users.update().where(users.c.id == user_id).values(email=_normalized(email))
            )
    with op.batch_alter_table("audit_entries") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_entries") as batch:
        batch.drop_column("key_id")
