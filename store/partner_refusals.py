"""The refusals of the partner side (R16-R19) whose details come from rows, one function
each.

Each returns a :class:`Refusal` with its code, a ``reason`` where the code has several
sentences, and the details its sentence needs (a BC's id and name, a shop's code...); the
sentence itself is in the "partner side" section of models/wording.py. A refusal that
carries only its code and the id it was given is built where it is raised
(``Refusal(ErrorCode.UNKNOWN_INVITATION, invitation_id=...)``): a function would only
repeat it. tests/test_partner_wording.py renders every one of both kinds.
"""

from __future__ import annotations

from typing import Literal

from models.enums import Permission
from models.errors import ErrorCode, Refusal
from models.tables import BusinessCenter, Invitation, Shop

# --- members and ad accounts (R16) -------------------------------------------------------


def not_a_member_to_assign(email: str, bc: BusinessCenter) -> Refusal:
    return Refusal(
        ErrorCode.NOT_A_MEMBER, reason="assign", email=email, bc_id=bc.id, bc_name=bc.name
    )


def already_a_member(email: str, bc: BusinessCenter) -> Refusal:
    return Refusal(ErrorCode.ALREADY_A_MEMBER, email=email, bc_id=bc.id, bc_name=bc.name)


def invitation_already_pending(email: str, bc: BusinessCenter, invitation_id: str) -> Refusal:
    return Refusal(
        ErrorCode.INVITATION_ALREADY_PENDING,
        email=email,
        bc_id=bc.id,
        invitation_id=invitation_id,
    )


def ad_account_not_of_bc(ad_account_id: int, bc: BusinessCenter) -> Refusal:
    return Refusal(
        ErrorCode.UNKNOWN_AD_ACCOUNT,
        reason="not_of_bc",
        ad_account_id=ad_account_id,
        bc_id=bc.id,
        bc_name=bc.name,
    )


# --- invitations (R16, R17) ----------------------------------------------------------------


def invitation_not_pending(invitation: Invitation) -> Refusal:
    return Refusal(
        ErrorCode.INVITATION_NOT_PENDING,
        invitation_id=invitation.id,
        status=invitation.status.value,
    )


def not_the_invitee(invitation: Invitation) -> Refusal:
    return Refusal(
        ErrorCode.PERMISSION_DENIED, reason="not_the_invitee", invitation_id=invitation.id
    )


# --- holding and sharing shops (R17) -------------------------------------------------------


def shop_not_held(bc: BusinessCenter, shop: Shop) -> Refusal:
    return Refusal(ErrorCode.SHOP_NOT_HELD, bc_id=bc.id, bc_name=bc.name, shop_code=shop.code)


def above_held(
    held: str,
    permission: Permission,
    *,
    to: Literal["members", "partners"],
    bc: BusinessCenter,
    shop: Shop,
) -> Refusal:
    """R16/R17 policy: a BC gives its members, or shares with partners, at most what it
    holds; ``held`` is its level's label."""
    return Refusal(
        ErrorCode.PERMISSION_DENIED,
        reason=f"above_held_to_{to}",
        bc_id=bc.id,
        bc_name=bc.name,
        held=held,
        shop_code=shop.code,
        permission=permission.value,
    )


def partner_has_shop(partner: BusinessCenter, shop: Shop) -> Refusal:
    return Refusal(
        ErrorCode.ALREADY_HAS_ACCESS,
        reason="partner_has_shop",
        bc_id=partner.id,
        bc_name=partner.name,
        shop_code=shop.code,
    )


def not_yet_a_partner(bc: BusinessCenter, partner: BusinessCenter) -> Refusal:
    return Refusal(
        ErrorCode.NOT_A_PARTNER,
        reason="not_yet",
        bc_id=bc.id,
        bc_name=bc.name,
        partner_bc_id=partner.id,
        partner_bc_name=partner.name,
    )


# --- campaigns (R18) -------------------------------------------------------------------------


def not_a_member_of_ad_account_bc(email: str, bc: BusinessCenter, ad_account_id: int) -> Refusal:
    return Refusal(
        ErrorCode.NOT_A_MEMBER,
        reason="campaign",
        email=email,
        bc_id=bc.id,
        bc_name=bc.name,
        ad_account_id=ad_account_id,
    )


def no_shop_permission(email: str, bc: BusinessCenter, shop: Shop) -> Refusal:
    return Refusal(
        ErrorCode.PERMISSION_DENIED,
        reason="no_shop_permission",
        email=email,
        bc_id=bc.id,
        bc_name=bc.name,
        shop_code=shop.code,
    )


def no_campaign_permission(email: str, ad_account_id: int) -> Refusal:
    return Refusal(
        ErrorCode.PERMISSION_DENIED,
        reason="no_campaign_permission",
        email=email,
        ad_account_id=ad_account_id,
    )


# --- removing access (R19) -------------------------------------------------------------------


def not_removal_authority(email: str, shop: Shop) -> Refusal:
    return Refusal(
        ErrorCode.PERMISSION_DENIED,
        reason="not_removal_authority",
        email=email,
        shop_code=shop.code,
    )


def not_a_partner_of_shop(bc: BusinessCenter, shop: Shop) -> Refusal:
    return Refusal(
        ErrorCode.NOT_A_PARTNER,
        reason="of_shop",
        bc_id=bc.id,
        bc_name=bc.name,
        shop_code=shop.code,
    )


# --- the partner service's own (client/partners.py) ----------------------------------------


def no_answer(timeout_seconds: float) -> Refusal:
    """No worker answered in time (shared wording with the request side)."""
    return Refusal(
        ErrorCode.SERVICE_UNAVAILABLE, reason="no_answer", timeout_seconds=round(timeout_seconds)
    )


def operation_failed(error: BaseException) -> Refusal:
    """A workflow failed without a refusal's code (shared wording with the request side)."""
    return Refusal(ErrorCode.SERVICE_UNAVAILABLE, reason="failed", error=str(error))
