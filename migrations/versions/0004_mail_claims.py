"""e-mail claims: email_delivery.rejected, for permanent (5xx) refusals

A row is written when a message's business key is claimed, before sending; ``sent_at``
marks it sent, ``rejected`` refused for good. Rows from 0001/0002 all have ``sent_at``.

Revision ID: 0004_mail_claims
Revises: 0003_web_sessions
Create Date: 2026-12-01 14:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004_mail_claims"
down_revision: str | None = "0003_web_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "email_delivery",
        sa.Column("rejected", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("email_delivery") as batch:
        batch.drop_column("rejected")
