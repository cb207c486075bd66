"""Standard Webhooks secrets (R30): webhook_subscription.secret in the whsec_ format, and
the previous secret that still signs during a rotation's overlap

Before, the secret's text itself was the HMAC key. Standard Webhooks keys are the bytes
behind ``whsec_<base64>``, so every stored secret S becomes ``whsec_`` + base64(S): the
key bytes stay exactly what they were, and a receiver that kept S can compute its new
secret itself (docs/webhooks.md, "Secrets written before Standard Webhooks"). The column
widens to 400 characters (base64 of a 200-character secret is 268).

Revision ID: 0011_webhook_secrets
Revises: 0009_invitation_until
Create Date: 2026-12-07 07:00:00
"""

import base64
from collections.abc import Callable, Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011_webhook_secrets"
down_revision: str | None = "0010_preferred_language"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SUBS = sa.table("webhook_subscription", sa.column("id", sa.String), sa.column("secret", sa.String))


def _rewrite(convert: Callable[[str], str]) -> None:
    conn = op.get_bind()
    for sub_id, secret in conn.execute(sa.select(_SUBS.c.id, _SUBS.c.secret)).all():
        conn.execute(_SUBS.update().where(_SUBS.c.id == sub_id).values(secret=convert(secret)))


def _encode(secret: str) -> str:
    return "whsec_" + base64.b64encode(secret.encode()).decode("ascii")


def _decode(secret: str) -> str:
    """The old text key, when the key bytes are text (every secret written before); a
    random key made since stays as it is (its receiver needs a new secret then)."""
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True).decode()
    except ValueError:
        return secret


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":  # SQLite keeps any length in a VARCHAR
        op.alter_column(
            "webhook_subscription",
            "secret",
            type_=sqlmodel.sql.sqltypes.AutoString(length=400),
            existing_nullable=False,
        )
    op.add_column(
        "webhook_subscription",
        sa.Column("previous_secret", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=True),
    )
    op.add_column(
        "webhook_subscription",
        sa.Column("previous_secret_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    )
    _rewrite(_encode)


def downgrade() -> None:
    _rewrite(_decode)
    with op.batch_alter_table("webhook_subscription") as batch:
        batch.drop_column("previous_secret_until")
        batch.drop_column("previous_secret")
