"""Invitations over HTTP (R16, R17): inviting people to join a BC, and accepting,
declining or withdrawing an invitation (a member's, or the add-partner invitation a share
sends). The CLI's ``invite-member``, ``accept-invitation``, ``decline-invitation`` and
``cancel-invitation``, over the same service (client/partners.py) with the same rules and
codes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from api.access_request_routes import ACTING_KEYED
from api.deps import Acting, Actor, Body, Email, Partners
from api.errors import documented
from models.enums import MemberRole
from models.errors import ErrorCode as E
from models.fields import DbId
from models.partner_enums import AdAccountPermission
from models.partner_messages import AdAccountGrant, InvitationOutcome

router = APIRouter(tags=["invitations"])

InvitationId = Annotated[
    str, Path(min_length=1, max_length=64, examples=["inv_0123456789abcdef0123"])
]


class AdAccount(Body):
    ad_account_id: DbId = Field(description="An ad account of the inviting BC.")
    permission: AdAccountPermission = AdAccountPermission.OPERATOR


class InviteMembers(Acting):
    """Invite people to join a BC by e-mail, as an admin of the BC (R16): one invitation
    (and one e-mail with its accept link) per address."""

    bc_id: DbId = Field(description="The inviting Business Center.")
    # A bound the CLI does not need: every address starts its own workflow at once.
    emails: list[Email] = Field(min_length=1, max_length=100)
    role: MemberRole
    ad_accounts: list[AdAccount] = Field(
        default_factory=list, description="The ad accounts they get, with a permission each."
    )


class InvitationList(BaseModel):
    invitations: list[InvitationOutcome]


@router.post(
    "/invitations",
    status_code=201,
    response_model=InvitationList,
    responses=documented(
        *ACTING_KEYED,
        E.UNKNOWN_BC,
        E.NOT_BC_ADMIN,
        E.ALREADY_A_MEMBER,
        E.INVITATION_ALREADY_PENDING,
        E.UNKNOWN_AD_ACCOUNT,
    ),
    summary="Invite people to join a BC (R16)",
)
async def invite_members(body: InviteMembers, _caller: Actor, service: Partners) -> InvitationList:
    grants = [AdAccountGrant(**a.model_dump()) for a in body.ad_accounts]
    out = await service.invite_members(
        bc_id=body.bc_id, emails=body.emails, role=body.role, ad_accounts=grants, by=body.acting_as
    )
    return InvitationList(invitations=out)


# Answering an invitation: it must exist and be pending, and the one answering must be the
# invited address (member) or an admin of the invited BC (partner); cancelling, an admin
# of the inviting BC.
_ANSWER = (*ACTING_KEYED, E.UNKNOWN_INVITATION, E.INVITATION_NOT_PENDING, E.UNKNOWN_BC)


@router.post(
    "/invitations/{invitation_id}/accept",
    response_model=InvitationOutcome,
    responses=documented(*_ANSWER, E.PERMISSION_DENIED, E.NOT_BC_ADMIN),
    summary="Accept as the invited e-mail or an admin of the invited BC (R16, R17)",
)
async def accept_invitation(
    invitation_id: InvitationId, body: Acting, _caller: Actor, service: Partners
) -> InvitationOutcome:
    return await service.accept_invitation(invitation_id, by=body.acting_as)


@router.post(
    "/invitations/{invitation_id}/decline",
    response_model=InvitationOutcome,
    responses=documented(*_ANSWER, E.PERMISSION_DENIED, E.NOT_BC_ADMIN),
    summary="Decline as the invited e-mail or an admin of the invited BC (R16, R17)",
)
async def decline_invitation(
    invitation_id: InvitationId, body: Acting, _caller: Actor, service: Partners
) -> InvitationOutcome:
    return await service.decline_invitation(invitation_id, by=body.acting_as)


@router.post(
    "/invitations/{invitation_id}/cancel",
    response_model=InvitationOutcome,
    responses=documented(*_ANSWER, E.NOT_BC_ADMIN),
    summary="Withdraw an invitation as an admin of the inviting BC (R16, R17)",
)
async def cancel_invitation(
    invitation_id: InvitationId, body: Acting, _caller: Actor, service: Partners
) -> InvitationOutcome:
    return await service.cancel_invitation(invitation_id, by=body.acting_as)
