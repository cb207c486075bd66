"""a person's saved language for pages and e-mails (R28): app_user.preferred_language

NULL means no saved choice, which is what every existing person has: their pages follow
the browser, then the shop's market, and their e-mails the shop's market or the BC's
country (models/i18n.py).

Revision ID: 0010_preferred_language
Revises: 0009_invitation_until
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_preferred_language"
down_revision: str | None = "0009_invitation_until"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "app_user",
        sa.Column("preferred_language", sa.String(length=16), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("preferred_language")
