"""Enumerations and policy constants of the partner side (R16-R19).

Kept apart from models/enums.py so the request rules and the partner rules can grow
without editing each other's module.
"""

from __future__ import annotations

from enum import StrEnum

from models.enums import Permission, Relationship


class InvitationKind(StrEnum):
    MEMBER = "member"  # join a BC as a member (R16)
    PARTNER = "partner"  # become a BC's partner, with shops (R17)


class InvitationStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"


class AdAccountPermission(StrEnum):
    """What a member may do in one ad account (R16: "the ad accounts they get")."""

    ADMIN = "admin"
    OPERATOR = "operator"  # creates and edits campaigns
    ANALYST = "analyst"  # reads reports only


CAMPAIGN_WRITERS = frozenset({AdAccountPermission.ADMIN, AdAccountPermission.OPERATOR})
"""Ad account permissions that may create campaigns (R18)."""


class CampaignStatus(StrEnum):
    DELIVERING = "delivering"
    STOPPED = "stopped"


PRODUCT_SALES = "product_sales"
"""The only campaign objective this service models (R18)."""


class RemovalStatus(StrEnum):
    STOPPING = "stopping"  # grants ended; campaigns being stopped in pages
    COMPLETED = "completed"


# Policy (R16, R17): owner > manager > ad_promotion. An owner BC's grant carries
# Permission.MANAGER, so its level comes from the relationship.
OWNER_LEVEL = 3
PERMISSION_LEVEL = {Permission.MANAGER: 2, Permission.AD_PROMOTION: 1}


def grant_level(relationship: Relationship, permission: Permission) -> int:
    return OWNER_LEVEL if relationship is Relationship.OWNER else PERMISSION_LEVEL[permission]


def level_label(level: int) -> str:
    return {OWNER_LEVEL: "owner", 2: "manager", 1: "ad_promotion"}.get(level, "none")
