"""an Idempotency-Key's claim holds for a lease, not a day: api_idempotency.lease_until

A claim whose call never answered (its link handler died) frees the key once the lease
has passed, instead of answering idempotency_key_in_flight for 24 hours. Claims already
in the table keep NULL, which reads as a lease already passed: their call is long over.

Revision ID: 0012_idempotency_lease
Revises: 0011_webhook_secrets
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012_idempotency_lease"
down_revision: str | None = "0011_webhook_secrets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "api_idempotency",
        sa.Column("lease_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("api_idempotency") as batch:
        batch.drop_column("lease_until")
