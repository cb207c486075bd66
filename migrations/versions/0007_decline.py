"""declined requests: access_request.decline_reason (R22)

The status column is a plain string (no database enum), so ``declined`` needs no change
there; only the reason the shop team may give is new.

Revision ID: 0007_decline
Revises: 0006_access_until
Create Date: 2026-12-01 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007_decline"
down_revision: str | None = "0006_access_until"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("access_request") as batch:
        batch.add_column(
            sa.Column("decline_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("access_request") as batch:
        batch.drop_column("decline_reason")
