"""audit exports are signed (R32): audit_signing_key, one Ed25519 key per generation

Empty at first: the first export makes the first key (store/audit_keys.py).

Revision ID: 0013_audit_signing_key
Revises: 0012_idempotency_lease
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013_audit_signing_key"
down_revision: str | None = "0012_idempotency_lease"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STR = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "audit_signing_key",
        sa.Column("key_id", _STR(length=32), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("public_pem", _STR(), nullable=False),
        sa.Column("private_pem", _STR(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("retired_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key_id"),
        sa.UniqueConstraint("generation"),
    )


def downgrade() -> None:
    op.drop_table("audit_signing_key")
