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
from models.partner_enums import (
    PRODUCT_SALES,
    AdAccountPermission,
    CampaignStatus,
    InvitationKind,
    InvitationStatus,
    RemovalStatus,
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
    # R28: the language this person chose for pages and e-mails (models/i18n.KNOWN);
    # None: no choice saved, so the browser's or the market's applies.
    preferred_language: str | None = Field(default=None, max_length=16)


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
    # R22: why the shop team declined it, if they said (models/reasons.py).
    decline_reason: str | None = Field(default=None, max_length=500)


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
    # R23: the access ends by itself at this moment (the R19 removal runs); None: no end.
    ends_at: datetime | None = None


class AuditEvent(SQLModel, table=True):
    """Append-only log of every state change, with time and actor (R21)."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_entity", "entity", "entity_id"),
        UniqueConstraint("seq", name="uq_audit_event_seq"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=320)
    entity: str = Field(max_length=40)
    entity_id: str = Field(max_length=120)
    action: str = Field(max_length=60)
    detail: str = Field(default="{}")
    # The hash chain (R27, docs/audit.md): ``seq`` is the row's place in the one chain,
    # ``hash`` covers the row's fields and ``prev_hash``, the hash of the row at seq - 1.
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class EmailDelivery(SQLModel, table=True):
    """One row per message, keyed by business key, so a retried activity never sends twice."""

    __tablename__ = "email_delivery"

    key: str = Field(primary_key=True, max_length=200)
    to_addr: str = Field(max_length=320)
    subject: str = Field(max_length=300)
    message_id: str = Field(max_length=300)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    # A 5xx refusal, kept so ops see it and the key is never retried .
    # A row with neither sent_at nor rejected is claimed: being sent, or cut off mid-send.
    rejected: str | None = Field(default=None, max_length=300)


# --- partner side (R16-R19) --------------------------------------------------------------
# Members' permissions on shops, ad account permissions, invitations (member and partner),
# partnerships between BCs, campaigns, and removals of access. A share is a ShopGrant with
# relationship "partner", granted_by_bc_id = the sharing BC and a source_share_key.

_ACTIVE = text("ended_at IS NULL")


class MemberAssignment(SQLModel, table=True):
    """A BC member's permission on a shop the BC holds (R16); ended rows stay as history."""

    __tablename__ = "member_assignment"
    __table_args__ = (
        Index(
            "uq_member_assignment_active",
            "bc_id",
            "shop_id",
            "user_id",
            unique=True,
            sqlite_where=_ACTIVE,
            postgresql_where=_ACTIVE,
        ),
        Index("ix_member_assignment_bc_shop", "bc_id", "shop_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    bc_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("business_center.id"), nullable=False)
    )
    shop_id: int = Field(foreign_key="shop.id")
    user_id: int = Field(foreign_key="app_user.id", index=True)
    permission: Permission = Field(sa_type=_by_value(Permission))
    assigned_by_user_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
    # The removal (R19) that ended it, if any.
    ended_by_removal_id: str | None = Field(default=None, max_length=40)
    # R23: the assignment ends by itself at this moment; None: no end.
    ends_at: datetime | None = None


class AdAccountMember(SQLModel, table=True):
    """A member's permission in one ad account, given by an accepted invitation (R16)."""

    __tablename__ = "ad_account_member"

    ad_account_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("ad_account.id"), primary_key=True, autoincrement=False
        )
    )
    user_id: int = Field(primary_key=True, foreign_key="app_user.id", index=True)
    permission: AdAccountPermission = Field(sa_type=_by_value(AdAccountPermission))
    created_at: datetime = Field(default_factory=utcnow)


class BCPartner(SQLModel, table=True):
    """``partner_bc_id`` accepted ``bc_id``'s add-partner invitation (R17)."""

    __tablename__ = "bc_partner"

    bc_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("business_center.id"), primary_key=True, autoincrement=False
        )
    )
    partner_bc_id: int = Field(
        sa_column=Column(
            BigInteger,
            ForeignKey("business_center.id"),
            primary_key=True,
            autoincrement=False,
            index=True,
        )
    )
    created_at: datetime = Field(default_factory=utcnow)
    invitation_id: str | None = Field(default=None, max_length=40)


_PENDING_MEMBER = text("status = 'pending' AND kind = 'member'")
_PENDING_PARTNER = text("status = 'pending' AND kind = 'partner'")


class Invitation(SQLModel, table=True):
    """An invitation to join a BC as a member, or to become a BC's partner (R16, R17)."""

    __tablename__ = "invitation"
    __table_args__ = (
        # One pending member invitation per (BC, e-mail), one pending partner invitation per
        # (BC, partner BC): enforced by the engine as well as by the workflow id.
        Index(
            "uq_invitation_member_pending",
            "bc_id",
            "email",
            unique=True,
            sqlite_where=_PENDING_MEMBER,
            postgresql_where=_PENDING_MEMBER,
        ),
        Index(
            "uq_invitation_partner_pending",
            "bc_id",
            "partner_bc_id",
            unique=True,
            sqlite_where=_PENDING_PARTNER,
            postgresql_where=_PENDING_PARTNER,
        ),
        Index("ix_invitation_bc_created", "bc_id", "created_at"),
        Index("ix_invitation_partner_bc", "partner_bc_id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    kind: InvitationKind = Field(sa_type=_by_value(InvitationKind))
    bc_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("business_center.id"), nullable=False)
    )
    invited_by_user_id: int = Field(foreign_key="app_user.id")
    # Member invitations: who, and as what.
    email: str | None = Field(default=None, max_length=320)
    role: MemberRole | None = Field(default=None, sa_type=_by_value(MemberRole))
    # Partner invitations: which BC.
    partner_bc_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    status: InvitationStatus = Field(
        default=InvitationStatus.PENDING, sa_type=_by_value(InvitationStatus)
    )
    created_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None
    decided_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    workflow_id: str = Field(max_length=200)


class InvitationAdAccount(SQLModel, table=True):
    """An ad account a member invitation gives, with its permission (R16)."""

    __tablename__ = "invitation_ad_account"

    invitation_id: str = Field(primary_key=True, foreign_key="invitation.id", max_length=40)
    ad_account_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("ad_account.id"), primary_key=True, autoincrement=False
        )
    )
    permission: AdAccountPermission = Field(sa_type=_by_value(AdAccountPermission))


class InvitationShop(SQLModel, table=True):
    """A shop an add-partner invitation carries, with its permission (R17)."""

    __tablename__ = "invitation_shop"

    invitation_id: str = Field(primary_key=True, foreign_key="invitation.id", max_length=40)
    shop_id: int = Field(primary_key=True, foreign_key="shop.id")
    permission: Permission = Field(sa_type=_by_value(Permission))
    added_by_user_id: int = Field(foreign_key="app_user.id")
    added_at: datetime = Field(default_factory=utcnow)
    # R23: when the share ends once the invitation is accepted (None: no end date).
    ends_at: datetime | None = None


class Campaign(SQLModel, table=True):
    """A Product Sales campaign in an ad account with a shop as product source (R18)."""

    __tablename__ = "campaign"
    __table_args__ = (
        # R19: a partner's delivering campaigns on one shop, paged by id.
        Index("ix_campaign_shop_bc_status", "shop_id", "bc_id", "status", "id"),
        Index("ix_campaign_bc_created", "bc_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ad_account_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("ad_account.id"), nullable=False, index=True)
    )
    # The ad account's BC, copied here so R19's page query needs no join.
    bc_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("business_center.id"), nullable=False)
    )
    shop_id: int = Field(foreign_key="shop.id")
    name: str = Field(max_length=200)
    objective: str = Field(default=PRODUCT_SALES, max_length=32)
    status: CampaignStatus = Field(
        default=CampaignStatus.DELIVERING, sa_type=_by_value(CampaignStatus)
    )
    created_by_user_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    stopped_at: datetime | None = None
    stopped_by_removal_id: str | None = Field(default=None, max_length=40)


class AccessRemoval(SQLModel, table=True):
    """One removal of a partner's access to a shop (R19), and what it ended."""

    __tablename__ = "access_removal"
    __table_args__ = (Index("ix_access_removal_shop_partner", "shop_id", "partner_bc_id"),)

    id: str = Field(primary_key=True, max_length=40)
    shop_id: int = Field(foreign_key="shop.id")
    partner_bc_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("business_center.id"), nullable=False)
    )
    requested_by_user_id: int = Field(foreign_key="app_user.id")
    status: RemovalStatus = Field(default=RemovalStatus.STOPPING, sa_type=_by_value(RemovalStatus))
    # JSON lists, written once by the transaction that ended the grants.
    ended_grant_ids: str = Field(default="[]")
    lost_bc_ids: str = Field(default="[]")
    campaigns_stopped: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    workflow_id: str = Field(max_length=200)


# R17/R19: onward shares are found by who granted them.
Index(
    "ix_shop_grant_granted_by",
    ShopGrant.__table__.c.granted_by_bc_id,  # type: ignore[attr-defined]
    ShopGrant.__table__.c.shop_id,  # type: ignore[attr-defined]
)


class WebSession(SQLModel, table=True):
    """A seller signed in to partner management (R15). The cookie carries a random id,
    signed; only its SHA-256 is stored, so a copy of the table opens no session. Sign-out
    sets ``ended_at``; an ended or expired session opens nothing, whatever the cookie."""

    __tablename__ = "web_session"

    id_hash: str = Field(primary_key=True, max_length=64)
    email: str = Field(max_length=320)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    ended_at: datetime | None = None


class PersonalLinkAsk(SQLModel, table=True):
    """One ask for a personal link from a copied link (R7), counted for the hourly cap.
    The address is kept only as a SHA-256: the cap needs to compare, not to read it."""

    __tablename__ = "personal_link_ask"
    __table_args__ = (
        Index("ix_personal_link_ask_request_at", "request_id", "asked_at"),
        Index("ix_personal_link_ask_address_at", "address_hash", "asked_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(max_length=40)
    address_hash: str = Field(max_length=64)
    asked_at: datetime = Field(default_factory=utcnow)


class AuditChainHead(SQLModel, table=True):
    """The audit chain's last link (one row, id 1): a writer locks it to take the next
    ``seq``, so concurrent writers extend one chain and never fork it (docs/audit.md)."""

    __tablename__ = "audit_chain_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    hash: str = Field(max_length=64)


class AuditSigningKey(SQLModel, table=True):
    """An Ed25519 key that signs audit exports' trailers (R32, docs/audit.md). The newest
    ``generation`` signs; older ones stay listed by ``key_id`` so the exports they signed
    still verify, with their private half erased when they were rotated out.

    ``generation`` is unique, so two processes making the first key (or rotating) at once
    get one winner on either engine; the loser reads the winner's key."""

    __tablename__ = "audit_signing_key"

    key_id: str = Field(primary_key=True, max_length=32)
    generation: int = Field(unique=True)
    public_pem: str
    # PKCS#8 PEM; never logged nor exported (docs/decisions.md, "Where the audit signing
    # key lives"). NULL once the key is rotated out: it signs nothing more.
    private_pem: str | None = Field(default=None, repr=False)
    created_at: datetime = Field(default_factory=utcnow)
    retired_at: datetime | None = None


class WebhookSubscription(SQLModel, table=True):
    """A receiver of one shop's or one BC's changes as signed webhooks (R26, R30,
    docs/webhooks.md). ``start_seq``: the audit chain's head when it was added; it gets the
    changes after that. ``secret`` (``whsec_<base64>``, Standard Webhooks) signs; it must
    be readable to sign, so it is stored as given (the database is as sensitive as
    SECRET_KEY). After a rotation ``previous_secret`` signs too, until
    ``previous_secret_until``. Removing sets ``removed_at``."""

    __tablename__ = "webhook_subscription"

    id: str = Field(primary_key=True, max_length=40)
    shop_code: str | None = Field(default=None, max_length=64)
    bc_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=400)
    previous_secret: str | None = Field(default=None, max_length=400)
    previous_secret_until: datetime | None = None
    start_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_by: str = Field(max_length=320)
    created_at: datetime = Field(default_factory=utcnow)
    removed_at: datetime | None = None


class WebhookDelivery(SQLModel, table=True):
    """The delivery log: one row per subscription and event (an audit row's ``seq``),
    updated on every attempt. ``status``: pending, delivered, failed (gave up after
    3 days) or replay (asked again; the dispatcher sends it once more, same event id)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_status", "subscription_id", "status"),)

    subscription_id: str = Field(
        primary_key=True, foreign_key="webhook_subscription.id", max_length=40
    )
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    event_id: str = Field(max_length=40)
    event_type: str = Field(max_length=120)
    status: str = Field(max_length=20)
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    last_attempt_at: datetime | None = None
    delivered_at: datetime | None = None


class ApiToken(SQLModel, table=True):
    """An ops API token (R26, docs/api.md). Only the SHA-256 of the secret is kept:
    the secret is shown once, at creation. ``scopes``: ``read`` or ``read,act``.
    ``window_start``/``window_count``: the current rate-limit minute, counted in the store
    so every link-handler process shares one limit per token."""

    __tablename__ = "api_token"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=100)
    secret_hash: str = Field(max_length=64, unique=True)
    scopes: str = Field(max_length=40)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    window_start: datetime | None = None
    window_count: int = 0


class ApiIdempotency(SQLModel, table=True):
    """The first answer to a POST sent with an ``Idempotency-Key``, per token and key, so
    a repeat gets it again and does nothing twice. ``status_code`` is null while the first
    call is still running (a concurrent repeat is told so, until ``lease_until``)."""

    __tablename__ = "api_idempotency"

    token_id: str = Field(primary_key=True, foreign_key="api_token.id", max_length=40)
    key: str = Field(primary_key=True, max_length=255)
    fingerprint: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    status_code: int | None = None
    body: str | None = None
    location: str | None = Field(default=None, max_length=500)
    # While unanswered, the claim holds until then: a link handler that dies mid-call
    # frees the key once its lease (a little past the call's deadline) has passed.
    lease_until: datetime | None = None
