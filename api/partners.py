"""The partner side over HTTP (R16, R17, R23): what a BC holds, assigning members,
sharing shops and end dates on a partner's access. The CLI's ``shops``, ``assign-member``,
``share-shop`` and ``access-until``, over the same service (client/partners.py) with the
same rules and codes. Invitations are in api/invitations.py, campaigns in api/campaigns.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from api.access_request_routes import ACTING_KEYED, CALLER
from api.deps import Acting, Actor, Email, Partners, Reader, ShopCodePath, end_date
from api.errors import documented
from models.enums import Permission
from models.errors import ErrorCode as E
from models.fields import DbId, Id
from models.partner_messages import AssignmentView, HeldShopView, ShareOutcome

router = APIRouter(tags=["partners"])

BcId = Annotated[DbId, Path(description="A Business Center's id.")]
UNTIL_HELP = (
    "R23: ends then: YYYY-MM-DD (through that day, UTC) or an ISO date-time with offset; "
    "never later than the granting BC's own access."
)
# Who acts for a BC must be one of its admins (R1), on a shop it holds (R17).
BC_ADMIN_ON_SHOP = (E.UNKNOWN_SHOP_CODE, E.UNKNOWN_BC, E.NOT_BC_ADMIN, E.SHOP_NOT_HELD)
END_DATE = (E.END_DATE_PASSED, E.END_DATE_TOO_LATE)


class ShopList(BaseModel):
    shops: list[HeldShopView]


@router.get(
    "/bcs/{bc_id}/shops",
    response_model=ShopList,
    responses=documented(*CALLER, E.INVALID_INPUT, E.UNKNOWN_BC),
    summary="What a BC holds, with relationship, permission and end date (R8, R17, R23)",
)
async def list_shops(bc_id: BcId, _caller: Reader, service: Partners) -> ShopList:
    return ShopList(shops=await to_thread.run_sync(service.shops, bc_id))


class AssignMember(Acting):
    """Give a member of the BC ``manager`` or ``ad_promotion`` on a shop the BC holds,
    as an admin of the BC (R16); the same permission again changes nothing, another
    replaces it."""

    bc_id: DbId = Field(description="The BC holding the shop; the member belongs to it.")
    member: Email = Field(description="E-mail of a member of the BC.")
    permission: Permission = Field(description="At most what the BC holds (R16 policy).")
    until: str | None = Field(
        default=None, max_length=64, description=UNTIL_HELP, examples=["2027-01-31"]
    )


@router.post(
    "/shops/{shop_code}/members",
    response_model=AssignmentView,
    responses=documented(
        *ACTING_KEYED, *BC_ADMIN_ON_SHOP, E.NOT_A_MEMBER, E.PERMISSION_DENIED, *END_DATE
    ),
    summary="Assign a BC member a permission on a shop (R16, R23)",
)
async def assign_member(
    shop_code: ShopCodePath, body: AssignMember, _caller: Actor, service: Partners
) -> AssignmentView:
    return await service.assign_member_with_end_date(
        bc_id=body.bc_id,
        shop_code=shop_code,
        member=body.member,
        permission=body.permission,
        by=body.acting_as,
        until=end_date(body.until),
    )


class ShareShop(Acting):
    """Share a shop the BC holds with another BC, as an admin of the sharing BC, never
    above its own permission (R17). An existing partner gets it at once (``shared``); any
    other BC gets an add-partner invitation (``invited``) and the shop when it accepts."""

    bc_id: DbId = Field(description="The sharing Business Center.")
    partner_bc_id: DbId
    permission: Permission
    until: str | None = Field(
        default=None,
        max_length=64,
        description=UNTIL_HELP + " On an invitation, the share has it once accepted.",
        examples=["2027-01-31"],
    )


@router.post(
    "/shops/{shop_code}/shares",
    response_model=ShareOutcome,
    responses=documented(
        *ACTING_KEYED,
        *BC_ADMIN_ON_SHOP,
        E.PERMISSION_DENIED,
        E.ALREADY_HAS_ACCESS,
        E.NOT_A_PARTNER,
        E.INVITATION_NOT_PENDING,
        *END_DATE,
    ),
    summary="Share a shop with a partner BC, or invite it as a partner (R17, R23)",
)
async def share_shop(
    shop_code: ShopCodePath, body: ShareShop, _caller: Actor, service: Partners
) -> ShareOutcome:
    return await service.share_shop(
        bc_id=body.bc_id,
        shop_code=shop_code,
        partner_bc_id=body.partner_bc_id,
        permission=body.permission,
        by=body.acting_as,
        until=end_date(body.until),
    )


class AccessUntil(Acting):
    """Set, change or clear when a partner's access to the shop ends (R23), as a member
    of the shop's team or an admin of its owner BC (as for removing access, R19). At the
    end date the same removal runs by itself; setting the same date again re-arms it."""

    until: str | None = Field(
        max_length=64,
        description="The new end date: YYYY-MM-DD (through that day, UTC) or an ISO "
        "date-time with offset; null clears it (the access lasts). Required.",
        examples=["2027-01-31"],
    )


class EndDate(BaseModel):
    shop_code: str
    partner_bc_id: Id
    grant_ids: list[Id] = Field(description="The partner's grants on the shop, all changed.")
    ends_at: datetime | None = Field(description="When the access ends; null: it lasts.")


@router.post(
    "/shops/{shop_code}/partners/{partner_bc_id}/access-until",
    response_model=EndDate,
    responses=documented(
        *ACTING_KEYED,
        E.UNKNOWN_SHOP_CODE,
        E.UNKNOWN_BC,
        E.PERMISSION_DENIED,
        E.NOT_A_PARTNER,
        *END_DATE,
    ),
    summary="Set, change or clear the end date of a partner's access (R23)",
)
async def access_until(
    shop_code: ShopCodePath,
    partner_bc_id: BcId,
    body: AccessUntil,
    _caller: Actor,
    service: Partners,
) -> EndDate:
    done = await service.set_access_end_date(
        shop_code=shop_code,
        partner_bc_id=partner_bc_id,
        until=end_date(body.until),
        by=body.acting_as,
    )
    return EndDate(
        shop_code=done.shop_code,
        partner_bc_id=done.partner_bc_id,
        grant_ids=done.grant_ids,
        ends_at=done.ends_at,
    )
