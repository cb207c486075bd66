"""access until a date (R23): shop_grant.ends_at, member_assignment.ends_at

NULL means the access has no end date, which is what every existing row had.

Revision ID: 0006_access_until
Revises: 0005_audit_chain
Create Date: 2026-12-01 15:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006_access_until"
down_revision: str | None = "0005_audit_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "shop_grant", sa.Column("ends_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
    )
    op.add_column(
        "member_assignment",
        sa.Column("ends_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("member_assignment") as batch:
        batch.drop_column("ends_at")
    with op.batch_alter_table("shop_grant") as batch:
        batch.drop_column("ends_at")
