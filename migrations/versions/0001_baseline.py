"""The 1.0.0 baseline: the whole schema in one migration.

The pre-release migrations were squashed into this one (docs/decisions.md, "One baseline
migration at 1.0.0"); it was generated from the tables' models and checked to build the
same schema as the old chain on SQLite and PostgreSQL. A store made by an earlier build
names a revision this one does not know and is refused (store/migrate.py). Every schema
change from 1.0.0 on is a new migration after this one, never an edit of it.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from store.audit import GENESIS

revision: str = "0001_baseline"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_token",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("secret_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("scopes", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("window_start", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("window_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_hash"),
    )
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("preferred_language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_user_email"), ["email"], unique=True)

    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # R27: the chain's one head row, at the genesis hash before any change is recorded.
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("entity", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("entity_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("seq", name="uq_audit_event_seq"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entity", ["entity", "entity_id"], unique=False)

    op.create_table(
        "audit_signing_key",
        sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("public_pem", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("private_pem", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("retired_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key_id"),
        sa.UniqueConstraint("generation"),
    )
    op.create_table(
        "business_center",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "type",
            sa.Enum("direct", "agency", "regular", name="bctype", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("country", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "email_delivery",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("to_addr", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("rejected", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.PrimaryKeyConstraint("key"),
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
            "ix_personal_link_ask_address_at", ["address_hash", "asked_at"], unique=False
        )
        batch_op.create_index(
            "ix_personal_link_ask_request_at", ["request_id", "asked_at"], unique=False
        )

    op.create_table(
        "shop",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("location", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("linked_bc_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("shop", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shop_code"), ["code"], unique=True)

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
        "webhook_subscription",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("shop_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("bc_id", sa.BigInteger(), nullable=True),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("secret", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("previous_secret", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=True),
        sa.Column("previous_secret_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("start_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("removed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "access_removal",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("partner_bc_id", sa.BigInteger(), nullable=False),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("stopping", "completed", name="removalstatus", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("ended_grant_ids", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("lost_bc_ids", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("campaigns_stopped", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_bc_id"],
            ["business_center.id"],
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_user_id"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shop.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("access_removal", schema=None) as batch_op:
        batch_op.create_index(
            "ix_access_removal_shop_partner", ["shop_id", "partner_bc_id"], unique=False
        )

    op.create_table(
        "access_request",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column(
            "method",
            sa.Enum(
                "request_access", "add_my_shop", name="requestmethod", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("bc_id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("bc_local_day", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "expired",
                "revoked",
                "cancelled",
                "declined",
                name="requeststatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.Column("approving_bc_id", sa.BigInteger(), nullable=True),
        sa.Column("superseded_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("decline_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["bc_id"],
            ["business_center.id"],
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_user_id"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_user_id"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shop.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("access_request", schema=None) as batch_op:
        batch_op.create_index("ix_access_request_bc_day", ["bc_id", "bc_local_day"], unique=False)
        batch_op.create_index(
            "ix_access_request_shop_created", ["shop_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "uq_access_request_pending",
            ["bc_id", "shop_id", "method"],
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    op.create_table(
        "ad_account",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("bc_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["bc_id"],
            ["business_center.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ad_account", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ad_account_bc_id"), ["bc_id"], unique=False)

    op.create_table(
        "api_idempotency",
        sa.Column("token_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("location", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("lease_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_token.id"],
        ),
        sa.PrimaryKeyConstraint("token_id", "key"),
    )
    op.create_table(
        "bc_member",
        sa.Column("bc_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum("admin", "standard", name="memberrole", native_enum=False, length=32),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["bc_id"],
            ["business_center.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("bc_id", "user_id"),
    )
    with op.batch_alter_table("bc_member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bc_member_user_id"), ["user_id"], unique=False)

    op.create_table(
        "bc_partner",
        sa.Column("bc_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("partner_bc_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("invitation_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["bc_id"],
            ["business_center.id"],
        ),
        sa.ForeignKeyConstraint(
            ["partner_bc_id"],
            ["business_center.id"],
        ),
        sa.PrimaryKeyConstraint("bc_id", "partner_bc_id"),
    )
    with op.batch_alter_table("bc_partner", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bc_partner_partner_bc_id"), ["partner_bc_id"], unique=False
        )

    op.create_table(
        "invitation",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("member", "partner", name="invitationkind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("bc_id", sa.BigInteger(), nullable=False),
        sa.Column("invited_by_user_id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column(
            "role",
            sa.Enum("admin", "standard", name="memberrole", native_enum=False, length=32),
            nullable=True,
        ),
        sa.Column("partner_bc_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "accepted",
                "declined",
                "cancelled",
                name="invitationstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["bc_id"],
            ["business_center.id"],
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_user_id"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.create_index("ix_invitation_bc_created", ["bc_id", "created_at"], unique=False)
        batch_op.create_index("ix_invitation_partner_bc", ["partner_bc_id"], unique=False)
        batch_op.create_index(
            "uq_invitation_member_pending",
            ["bc_id", "email"],
            unique=True,
            sqlite_where=sa.text("status = 'pending' AND kind = 'member'"),
            postgresql_where=sa.text("status = 'pending' AND kind = 'member'"),
        )
        batch_op.create_index(
            "uq_invitation_partner_pending",
            ["bc_id", "partner_bc_id"],
            unique=True,
            sqlite_where=sa.text("status = 'pending' AND kind = 'partner'"),
            postgresql_where=sa.text("status = 'pending' AND kind = 'partner'"),
        )

    op.create_table(
        "member_assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bc_id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "permission",
            sa.Enum("manager", "ad_promotion", name="permission", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("assigned_by_user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ended_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column(
            "ended_by_removal_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True
        ),
        sa.Column("ends_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assigned_by_user_id"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["bc_id"],
            ["business_center.id"],
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shop.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("member_assignment", schema=None) as batch_op:
        batch_op.create_index("ix_member_assignment_bc_shop", ["bc_id", "shop_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_member_assignment_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            "uq_member_assignment_active",
            ["bc_id", "shop_id", "user_id"],
            unique=True,
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        )

    op.create_table(
        "shop_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bc_id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column(
            "relationship",
            sa.Enum("owner", "partner", name="relationship", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "permission",
            sa.Enum("manager", "ad_promotion", name="permission", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("source_request_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("source_share_key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("granted_by_bc_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("ends_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["bc_id"],
            ["business_center.id"],
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shop.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_request_id"),
        sa.UniqueConstraint("source_share_key"),
    )
    with op.batch_alter_table("shop_grant", schema=None) as batch_op:
        batch_op.create_index("ix_shop_grant_bc_shop", ["bc_id", "shop_id"], unique=False)
        batch_op.create_index(
            "ix_shop_grant_granted_by", ["granted_by_bc_id", "shop_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_shop_grant_shop_id"), ["shop_id"], unique=False)

    op.create_table(
        "shop_team_member",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "owner", "main_admin", "ad_manager", name="teamrole", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shop.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("shop_id", "user_id"),
    )
    with op.batch_alter_table("shop_team_member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shop_team_member_user_id"), ["user_id"], unique=False)

    op.create_table(
        "webhook_delivery",
        sa.Column("subscription_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("event_type", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("last_attempt_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("delivered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscription.id"],
        ),
        sa.PrimaryKeyConstraint("subscription_id", "seq"),
    )
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_delivery_status", ["subscription_id", "status"], unique=False
        )

    op.create_table(
        "ad_account_member",
        sa.Column("ad_account_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "permission",
            sa.Enum(
                "admin",
                "operator",
                "analyst",
                name="adaccountpermission",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ad_account_id"],
            ["ad_account.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("ad_account_id", "user_id"),
    )
    with op.batch_alter_table("ad_account_member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ad_account_member_user_id"), ["user_id"], unique=False)

    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ad_account_id", sa.BigInteger(), nullable=False),
        sa.Column("bc_id", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("objective", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum("delivering", "stopped", name="campaignstatus", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("created_by_user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("stopped_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column(
            "stopped_by_removal_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["ad_account_id"],
            ["ad_account.id"],
        ),
        sa.ForeignKeyConstraint(
            ["bc_id"],
            ["business_center.id"],
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shop.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaign_ad_account_id"), ["ad_account_id"], unique=False
        )
        batch_op.create_index("ix_campaign_bc_created", ["bc_id", "created_at"], unique=False)
        batch_op.create_index(
            "ix_campaign_shop_bc_status", ["shop_id", "bc_id", "status", "id"], unique=False
        )

    op.create_table(
        "invitation_ad_account",
        sa.Column("invitation_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("ad_account_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "permission",
            sa.Enum(
                "admin",
                "operator",
                "analyst",
                name="adaccountpermission",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["ad_account_id"],
            ["ad_account.id"],
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitation.id"],
        ),
        sa.PrimaryKeyConstraint("invitation_id", "ad_account_id"),
    )
    op.create_table(
        "invitation_shop",
        sa.Column("invitation_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column(
            "permission",
            sa.Enum("manager", "ad_promotion", name="permission", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("added_by_user_id", sa.Integer(), nullable=False),
        sa.Column("added_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ends_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["added_by_user_id"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitation.id"],
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shop.id"],
        ),
        sa.PrimaryKeyConstraint("invitation_id", "shop_id"),
    )
    op.create_table(
        "request_send",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "email",
                "resend_email",
                "copy_link",
                name="sendchannel",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("by_user_id", sa.Integer(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_user_id"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["access_request.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "seq"),
    )
    with op.batch_alter_table("request_send", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_request_send_request_id"), ["request_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("request_send", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_send_request_id"))

    op.drop_table("request_send")
    op.drop_table("invitation_shop")
    op.drop_table("invitation_ad_account")
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_shop_bc_status")
        batch_op.drop_index("ix_campaign_bc_created")
        batch_op.drop_index(batch_op.f("ix_campaign_ad_account_id"))

    op.drop_table("campaign")
    with op.batch_alter_table("ad_account_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ad_account_member_user_id"))

    op.drop_table("ad_account_member")
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_delivery_status")

    op.drop_table("webhook_delivery")
    with op.batch_alter_table("shop_team_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shop_team_member_user_id"))

    op.drop_table("shop_team_member")
    with op.batch_alter_table("shop_grant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shop_grant_shop_id"))
        batch_op.drop_index("ix_shop_grant_granted_by")
        batch_op.drop_index("ix_shop_grant_bc_shop")

    op.drop_table("shop_grant")
    with op.batch_alter_table("member_assignment", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_member_assignment_active",
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_member_assignment_user_id"))
        batch_op.drop_index("ix_member_assignment_bc_shop")

    op.drop_table("member_assignment")
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_invitation_partner_pending",
            sqlite_where=sa.text("status = 'pending' AND kind = 'partner'"),
            postgresql_where=sa.text("status = 'pending' AND kind = 'partner'"),
        )
        batch_op.drop_index(
            "uq_invitation_member_pending",
            sqlite_where=sa.text("status = 'pending' AND kind = 'member'"),
            postgresql_where=sa.text("status = 'pending' AND kind = 'member'"),
        )
        batch_op.drop_index("ix_invitation_partner_bc")
        batch_op.drop_index("ix_invitation_bc_created")

    op.drop_table("invitation")
    with op.batch_alter_table("bc_partner", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bc_partner_partner_bc_id"))

    op.drop_table("bc_partner")
    with op.batch_alter_table("bc_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bc_member_user_id"))

    op.drop_table("bc_member")
    op.drop_table("api_idempotency")
    with op.batch_alter_table("ad_account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ad_account_bc_id"))

    op.drop_table("ad_account")
    with op.batch_alter_table("access_request", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_access_request_pending",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index("ix_access_request_shop_created")
        batch_op.drop_index("ix_access_request_bc_day")

    op.drop_table("access_request")
    with op.batch_alter_table("access_removal", schema=None) as batch_op:
        batch_op.drop_index("ix_access_removal_shop_partner")

    op.drop_table("access_removal")
    op.drop_table("webhook_subscription")
    op.drop_table("web_session")
    with op.batch_alter_table("shop", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shop_code"))

    op.drop_table("shop")
    with op.batch_alter_table("personal_link_ask", schema=None) as batch_op:
        batch_op.drop_index("ix_personal_link_ask_request_at")
        batch_op.drop_index("ix_personal_link_ask_address_at")

    op.drop_table("personal_link_ask")
    op.drop_table("email_delivery")
    op.drop_table("business_center")
    op.drop_table("audit_signing_key")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entity")

    op.drop_table("audit_event")
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_user_email"))

    op.drop_table("app_user")
    op.drop_table("api_token")
