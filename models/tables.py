"""The store's tables (sqlmodel). These never cross into a workflow: ids and messages do.

Timestamps are timezone-aware UTC (sqlmodel's UTCDateTime stores them on both engines).
Enums are stored by value as plain strings, not native enum types, so adding a value
later needs no ALTER TYPE and partial indexes can name values (``status = 'pending'``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, ForeignKey, Index, UniqueConstraint, text
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from models.enums import (
    BCType,
    MemberRole,
    Permission,
    Relationship,
    RequestMethod,
    RequestStatus,
    SendChannel,
    TeamRole,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _by_value(enum: type[StrEnum]) -> SAEnum:
    return SAEnum(
        enum,
        values_callable=lambda members: [m.value for m in members],
        native_enum=False,
        length=32,
        validate_strings=True,
    )


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    # Stored lower-cased so uniqueness is case-insensitive on every engine.
    email: str = Field(max_length=320, unique=True, index=True)
    name: str = Field(max_length=200)


class BusinessCenter(SQLModel, table=True):
    __tablename__ = "business_center"

    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    name: str = Field(max_length=200)
    timezone: str = Field(max_length=64)
    type: BCType = Field(sa_type=_by_value(BCType))
    country: str = Field(max_length=2)
    created_at: datetime = Field(default_factory=utcnow)


class BCMember(SQLModel, table=True):
    __tablename__ = "bc_member"

    bc_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("business_center.id"), primary_key=True, autoincrement=False
        )
    )
    user_id: int = Field(primary_key=True, foreign_key="app_user.id", index=True)
    role: MemberRole = Field(sa_type=_by_value(MemberRole))


class AdAccount(SQLModel, table=True):
    __tablename__ = "ad_account"

    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    bc_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("business_center.id"), nullable=False, index=True)
    )
    name: str = Field(max_length=200)


class Shop(SQLModel, table=True):
    __tablename__ = "shop"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    # "cross_border" or an ISO 3166-1 alpha-2 code.
    location: str = Field(max_length=16)
    # The BC linked to the shop's Seller Center, if any (R12 S1).
    linked_bc_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class ShopTeamMember(SQLModel, table=True):
    __tablename__ = "shop_team_member"

    shop_id: int = Field(primary_key=True, foreign_key="shop.id")
    user_id: int = Field(primary_key=True, foreign_key="app_user.id", index=True)
    role: TeamRole = Field(sa_type=_by_value(TeamRole))


class AccessRequest(SQLModel, table=True):
    __tablename__ = "access_request"
    __table_args__ = (
        # R6: at most one pending request per (BC, shop, method), enforced by the engine
        # as well as by the workflow id.
        Index(
            "uq_access_request_pending",
            "bc_id",
            "shop_id",
            "method",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        # R4: counting today's requests of one BC.
        Index("ix_access_request_bc_day", "bc_id", "bc_local_day"),
        # R15: a shop's history, newest first.
        Index("ix_access_request_shop_created", "shop_id", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    method: RequestMethod = Field(sa_type=_by_value(RequestMethod))
    bc_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("business_center.id"), nullable=False)
    )
    shop_id: int = Field(foreign_key="shop.id")
    requested_by_user_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    # The calendar day in the requesting BC's timezone when the request was made (R4).
    bc_local_day: str = Field(max_length=10)
    status: RequestStatus = Field(default=RequestStatus.PENDING, sa_type=_by_value(RequestStatus))
    decided_at: datetime | None = None
    decided_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    # The seller's BC that approved it (R12: linked, created, or chosen).
    approving_bc_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # For an expired request: the request whose approval made it expire (R11).
    superseded_by: str | None = Field(default=None, max_length=40)
    workflow_id: str = Field(max_length=200)


class RequestSend(SQLModel, table=True):
    """Every send of a request to the seller: the first e-mail, resends, copied links (R8)."""

    __tablename__ = "request_send"
    __table_args__ = (UniqueConstraint("request_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="access_request.id", index=True, max_length=40)
    seq: int
    channel: SendChannel = Field(sa_type=_by_value(SendChannel))
    by_user_id: int = Field(foreign_key="app_user.id")
    at: datetime = Field(default_factory=utcnow)


class ShopGrant(SQLModel, table=True):
    """A BC's access to a shop (R14, R17); revoked grants stay as history (R19, R21)."""

    __tablename__ = "shop_grant"
    __table_args__ = (Index("ix_shop_grant_bc_shop", "bc_id", "shop_id"),)

    id: int | None = Field(default=None, primary_key=True)
    bc_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("business_center.id"), nullable=False)
    )
    shop_id: int = Field(foreign_key="shop.id", index=True)
    relationship: Relationship = Field(sa_type=_by_value(Relationship))
    permission: Permission = Field(sa_type=_by_value(Permission))
    # Where it came from: an approved request, or a share by another BC.
    source_request_id: str | None = Field(default=None, unique=True, max_length=40)
    source_share_key: str | None = Field(default=None, unique=True, max_length=120)
    granted_by_bc_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class AuditEvent(SQLModel, table=True):
    """Append-only log of every state change, with time and actor (R21)."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=320)
    entity: str = Field(max_length=40)
    entity_id: str = Field(max_length=120)
    action: str = Field(max_length=60)
    detail: str = Field(default="{}")


class EmailDelivery(SQLModel, table=True):
    """One row per message, keyed by business key, so a retried activity never sends twice."""

    __tablename__ = "email_delivery"

    key: str = Field(primary_key=True, max_length=200)
    to_addr: str = Field(max_length=320)
    subject: str = Field(max_length=300)
    message_id: str = Field(max_length=300)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
