"""web sessions held on the server (sign-out ends them) and the personal-link ask log
that caps asks per request and per address (R7)

Revision ID: 0003_web_sessions
Revises: 0002
Create Date: 2026-12-01 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003_web_sessions"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_session",
        sa.Column("id_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ended_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_table(
        "personal_link_ask",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("address_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("asked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("personal_link_ask", schema=None) as batch_op:
        batch_op.create_index(
            "ix_personal_link_ask_request_at", ["request_id", "asked_at"], unique=False
        )
        batch_op.create_index(
            "ix_personal_link_ask_address_at", ["address_hash", "asked_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("personal_link_ask", schema=None) as batch_op:
        batch_op.drop_index("ix_personal_link_ask_address_at")
        batch_op.drop_index("ix_personal_link_ask_request_at")
    op.drop_table("personal_link_ask")
    op.drop_table("web_session")
