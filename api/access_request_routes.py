"""Requests over HTTP (R1-R15, R22, R23): ask a shop by its code, read one or a list,
resend or copy the link, cancel, approve and decline. The CLI's commands ``request-access``,
``add-my-shop``, ``status``, ``requests``, ``resend``, ``cancel``, ``approve``, ``decline``."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Header, Path, Query, Response
from pydantic import BaseModel, Field

from api.deps import Acting, Actor, Reader, Requests, State, Store, end_date, keyed_id
from api.errors import documented
from client import reads
from client.reads import RequestList
from models.enums import RequestMethod
from models.errors import ErrorCode as E
from models.fields import DbId
from models.messages import ApprovalOutcome, ApproveRequest, RequestResult, ResendOutcome
from models.reasons import REASON_MAX_LENGTH
from models.views import RequestView

router = APIRouter(tags=["requests"])

# Every call can meet these: the token, its rate, the store and Temporal.
CALLER = (E.UNAUTHENTICATED, E.SCOPE_REQUIRED, E.RATE_LIMITED, E.STORE_UNAVAILABLE)
ACTING = (*CALLER, E.INVALID_INPUT, E.SERVICE_UNAVAILABLE, E.IDEMPOTENCY_KEY_REUSED)
ACTING_KEYED = (*ACTING, E.IDEMPOTENCY_KEY_IN_FLIGHT)
ShopCode = Annotated[str, Field(min_length=1, max_length=64, examples=["GB-S1SHOP"])]
RequestId = Annotated[str, Path(min_length=1, max_length=64, examples=["req_0123456789abcdef0123"])]


class NewRequest(Acting):
    """Ask a shop for access by its code, as an admin of the requesting BC (R1-R7)."""

    method: RequestMethod = Field(
        default=RequestMethod.REQUEST_ACCESS,
        description='request_access ("Request access to other\'s TikTok Shop") or '
        'add_my_shop ("Add my TikTok Shop").',
    )
    bc_id: DbId = Field(description="The requesting Business Center.")
    shop_code: ShopCode


class Submitted(BaseModel):
    request_id: str
    status: str
    approval_url: str = Field(description="The link to copy to the seller (R7).")
    workflow_id: str


class Resend(Acting):
    copy_link: bool = Field(
        default=False, description="Take the link to copy instead of e-mailing it (R8)."
    )


class Approve(Acting):
    """Approve as a member of the shop's team (R10-R14): S1 needs nothing more, S2
    ``new_bc_name`` and ``timezone``, S3 ``bc_id``."""

    bc_id: DbId | None = Field(default=None, description="S3: one of your BCs.")
    new_bc_name: str | None = Field(default=None, max_length=200, description="S2: a new BC.")
    timezone: str | None = Field(default=None, max_length=64, description="S2: IANA timezone.")
    until: str | None = Field(
        default=None,
        max_length=64,
        description="R23: access ends then: YYYY-MM-DD (through that day, UTC) or an ISO "
        "date-time with offset.",
        examples=["2027-01-31"],
    )


class Approved(ApprovalOutcome):
    ends_at: str | None = Field(default=None, description="R23: when the access ends.")


class Decline(Acting):
    reason: str | None = Field(
        default=None, max_length=REASON_MAX_LENGTH, description="Why, for the requester (R22)."
    )


@router.post(
    "/requests",
    status_code=201,
    response_model=Submitted,
    responses=documented(
        *ACTING_KEYED,
        E.NOT_BC_ADMIN,
        E.BC_NOT_ELIGIBLE,
        E.SHOP_LOCATION_NOT_SUPPORTED,
        E.DAILY_LIMIT_REACHED,
        E.UNKNOWN_SHOP_CODE,
        E.UNKNOWN_BC,
        E.UNKNOWN_USER,
        E.REQUEST_ALREADY_PENDING,
        E.ALREADY_HAS_ACCESS,
    ),
    summary="Request access to a shop by its code",
)
async def create_request(
    body: NewRequest, caller: Actor, service: Requests, state: State, response: Response
) -> Submitted:
    sub = await service.submit(
        method=body.method,
        bc_id=body.bc_id,
        shop_code=body.shop_code,
        by=body.acting_as,
        # A retry with the same Idempotency-Key names the same request: it is answered
        # with the one its first attempt created (201), not request_already_pending.
        request_id=keyed_id(caller, "req_"),
    )
    response.headers["Location"] = f"/api/v1/requests/{sub.request_id}"
    return Submitted(
        request_id=sub.request_id,
        status=sub.status,
        # A retry answered with a request decided since has no admission to give the link.
        approval_url=sub.approval_url or state.links.copy_link(sub.request_id),
        workflow_id=sub.workflow_id,
    )


@router.get(
    "/requests/{request_id}",
    response_model=RequestView,
    responses=documented(*CALLER, E.UNKNOWN_REQUEST),
    summary="One request with every transition (R21)",
)
async def get_request(request_id: RequestId, _caller: Reader, store: Store) -> RequestView:
    return await to_thread.run_sync(reads.request_status, store, request_id)


@router.get(
    "/requests",
    response_model=RequestList,
    responses=documented(*CALLER, E.INVALID_INPUT, E.UNKNOWN_SHOP_CODE),
    summary="A BC's requests (R8, with today's quota) or a shop's history (R15)",
)
async def list_requests(
    _caller: Reader,
    store: Store,
    bc_id: Annotated[DbId | None, Query(description="A Business Center's requests.")] = None,
    shop_code: Annotated[
        str | None, Query(min_length=1, max_length=64, description="A shop's history.")
    ] = None,
) -> RequestList:
    return await to_thread.run_sync(
        lambda: reads.request_list(store, bc_id=bc_id, shop_code=shop_code)
    )


_PENDING_ONLY = (E.UNKNOWN_REQUEST, E.REQUEST_NOT_PENDING, E.UNKNOWN_USER)


@router.post(
    "/requests/{request_id}/resend",
    response_model=ResendOutcome,
    responses=documented(
        *ACTING_KEYED, *_PENDING_ONLY, E.NOT_BC_ADMIN, E.BC_ADMIN_REQUIRED, E.RESEND_TOO_SOON
    ),
    summary="E-mail the shop's team again, or take the link to copy (R8)",
)
async def resend(
    request_id: RequestId, body: Resend, _caller: Actor, service: Requests
) -> ResendOutcome:
    return await service.resend(request_id, by=body.acting_as, copy_link=body.copy_link)


@router.post(
    "/requests/{request_id}/cancel",
    response_model=RequestResult,
    responses=documented(*ACTING_KEYED, *_PENDING_ONLY, E.NOT_BC_ADMIN, E.BC_ADMIN_REQUIRED),
    summary="Withdraw a pending request (R9 policy)",
)
async def cancel(
    request_id: RequestId, body: Acting, _caller: Actor, service: Requests
) -> RequestResult:
    return await service.cancel(request_id, by=body.acting_as)


@router.post(
    "/requests/{request_id}/approve",
    response_model=Approved,
    responses=documented(
        *ACTING_KEYED,
        *_PENDING_ONLY,
        E.NOT_SHOP_TEAM,
        E.BC_ADMIN_REQUIRED,
        E.UNKNOWN_BC,
        E.END_DATE_PASSED,
    ),
    summary="Approve as a member of the shop's team (R10-R14, R23)",
)
async def approve(
    request_id: RequestId,
    body: Approve,
    _caller: Actor,
    service: Requests,
    key: Annotated[str | None, Header(alias="Idempotency-Key", include_in_schema=False)] = None,
) -> Approved:
    until = end_date(body.until)
    command = ApproveRequest(
        by=body.acting_as, bc_id=body.bc_id, new_bc_name=body.new_bc_name, timezone=body.timezone
    )
    # The key is also the update's id: the workflow itself decides once per key.
    out = await service.approve(request_id, command, until=until, idempotency_key=key)
    granted_until = until is not None and out.status == "approved" and not out.already_decided
    return Approved(
        **out.model_dump(), ends_at=until.isoformat() if until and granted_until else None
    )


@router.post(
    "/requests/{request_id}/decline",
    response_model=RequestResult,
    responses=documented(*ACTING_KEYED, *_PENDING_ONLY, E.NOT_SHOP_TEAM),
    summary="Decline as a member of the shop's team (R22)",
)
async def decline(
    request_id: RequestId,
    body: Decline,
    _caller: Actor,
    service: Requests,
    key: Annotated[str | None, Header(alias="Idempotency-Key", include_in_schema=False)] = None,
) -> RequestResult:
    return await service.decline(
        request_id, by=body.acting_as, reason=body.reason, idempotency_key=key
    )
