"""a share offered on an add-partner invitation may carry an end date (R23):
invitation_shop.ends_at

NULL means the offered share has no end date, which is what every existing offer had.

Revision ID: 0009_invitation_until
Revises: 0008_api_tokens
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009_invitation_until"
down_revision: str | None = "0008_api_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "invitation_shop",
        sa.Column("ends_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("invitation_shop") as batch:
        batch.drop_column("ends_at")
