"""the ops HTTP API: api_token (hashed, scoped, rate-limited) and api_idempotency

Revision ID: 0008_api_tokens
Revises: 0007_decline
Create Date: 2026-12-01 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008_api_tokens"
down_revision: str | None = "0007_decline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STR = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "api_token",
        sa.Column("id", _STR(length=40), nullable=False),
        sa.Column("name", _STR(length=100), nullable=False),
        sa.Column("secret_hash", _STR(length=64), nullable=False),
        sa.Column("scopes", _STR(length=40), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("window_start", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("window_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_hash"),
    )
    op.create_table(
        "api_idempotency",
        sa.Column("token_id", _STR(length=40), nullable=False),
        sa.Column("key", _STR(length=255), nullable=False),
        sa.Column("fingerprint", _STR(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", _STR(), nullable=True),
        sa.Column("location", _STR(length=500), nullable=True),
        sa.ForeignKeyConstraint(["token_id"], ["api_token.id"]),
        sa.PrimaryKeyConstraint("token_id", "key"),
    )


def downgrade() -> None:
    op.drop_table("api_idempotency")
    op.drop_table("api_token")
