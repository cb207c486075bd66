"""Bad input is refused at every entry with ``invalid_input``, a message
naming the field, and nothing stored and no workflow started.

- ``starter.py load`` files with a control character in a name or an id the store cannot
  hold (reference data: users, BCs, ad accounts, shops);
- request-access / add-my-shop with an id out of 1..2^63-1 (R1-R6's entry);
- the seller's S2 form (R12): a new BC name with CR/LF or a bidi override, through the
  service and straight to the workflow's update (its validator);
- invitations with an address that would write its own e-mail headers (R16), shares to a
  BC id out of range (R17).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, inspect, text
from sqlmodel import select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from client.access_requests import RequestService
from client.partners import PartnerService
from models.enums import MemberRole, Permission, RequestMethod, RequestStatus
from models.errors import ErrorCode, Refusal
from models.fields import DB_ID_MAX, DB_ID_MIN
from models.messages import ApproveRequest
from models.names import Message, request_workflow_id
from models.partner_enums import AdAccountPermission
from models.partner_messages import AdAccountGrant
from models.settings import Settings
from models.tables import AccessRequest, BusinessCenter, Invitation
from store.db import read_session
from store.people import find_shop_by_code
from tests.conftest import AGENCY, ANA, DEMO, NIA, S1_SHOP, S2_SHOP, load_demo
from tests.starter_process import run_starter

TOO_BIG = 2**64  # the reported 99999999999999999999 is larger still; both overflow BIGINT


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            t: [tuple(r) for r in conn.execute(text(f'SELECT * FROM "{t}" ORDER BY 1'))]
            for t in inspect(conn).get_table_names()
        }


def count(engine: Engine, table: type, *where: Any) -> int:
    with read_session(engine) as session:
        return int(session.exec(select(func.count()).select_from(table).where(*where)).one())


async def refusal_of(awaitable: Any) -> Refusal:
    with pytest.raises(Refusal) as info:
        await awaitable
    return info.value


async def no_workflows_on(client: Client, task_queue: str) -> None:
    """Nothing ran on this test's own queue. (Visibility lags a start by milliseconds; the
    service refuses before building any workflow input, so there is nothing to wait for.)"""
    listed = [w async for w in client.list_workflows(f"TaskQueue = '{task_queue}'")]
    assert listed == []


# --- load (reference data) ---------------------------------------------------------------


def _demo_with(path: tuple[str, int, str], value: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEMO.read_text())
    section, index, field = path
    data[section][index][field] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        # The reported BC name: a header injection in every e-mail naming the BC.
        (("business_centers", 0, "name"), "Acme\r\nBcc: evil@attacker.example", "U+000D"),
        (("shops", 0, "name"), "Shop\nTwo", "U+000A"),
        (("users", 0, "name"), "Ana\x00", "U+0000"),
        (("shops", 1, "name"), "Store \u202egnp.exe", "U+202E"),
        (("business_centers", 0, "id"), str(TOO_BIG), str(DB_ID_MAX)),  # R30: ids are text
        (("shops", 0, "linked_bc"), 0, f"must be an id from {DB_ID_MIN} to"),
    ],
    ids=["bc-crlf", "shop-lf", "user-nul", "shop-rlo", "bc-id-2^64", "linked-bc-0"],
)
async def test_load_refuses_bad_names_and_ids_and_stores_nothing(
    sqlite_engine: Engine,
    tmp_path: Path,
    path: tuple[str, int, str],
    value: Any,
    words: str,
) -> None:
    load_demo(sqlite_engine)
    before = dump(sqlite_engine)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_demo_with(path, value)))
    url = sqlite_engine.url.render_as_string(hide_password=False)
    done = await asyncio.to_thread(
        run_starter, ["load", str(bad), "--json"],
        {**os.environ, "DATABASE_URL": url, "DEV_MODE": "1"},
    )  # fmt: skip
    assert done.code == 1, (done.out, done.err)
    body = json.loads(done.out.strip().splitlines()[-1])
    assert body["error"]["code"] == ErrorCode.INVALID_INPUT
    message = body["error"]["message"]
    assert f"{path[0]}.{path[1]}.{path[2]}" in message and words in message, message
    assert dump(sqlite_engine) == before  # nothing stored, audit log included


# --- requests (R1-R6 entry) --------------------------------------------------------------


@pytest.mark.parametrize("bc_id", [TOO_BIG, 0, -1, DB_ID_MAX + 1])
async def test_submit_with_an_id_out_of_range_starts_no_workflow(
    service: RequestService, demo: Engine, client: Client, settings: Settings, bc_id: int
) -> None:
    refusal = await refusal_of(
        service.submit(method=RequestMethod.REQUEST_ACCESS, bc_id=bc_id, shop_code=S1_SHOP, by=ANA)
    )
    assert refusal.code == ErrorCode.INVALID_INPUT
    assert "bc_id" in refusal.message and str(DB_ID_MAX) in refusal.message
    with read_session(demo) as session:
        shop = find_shop_by_code(session, S1_SHOP)
    assert shop is not None and shop.id is not None
    with pytest.raises(RPCError) as info:
        await client.get_workflow_handle(
            request_workflow_id(RequestMethod.REQUEST_ACCESS, bc_id, S1_SHOP)
        ).describe()
    assert info.value.status is RPCStatusCode.NOT_FOUND
    await no_workflows_on(client, settings.task_queue)
    assert count(demo, AccessRequest) == 0


# --- the seller's S2 form (R12) ----------------------------------------------------------

BAD_BC_NAMES = ["Nia\r\nBcc: evil@attacker.example", "Nia\u202eCB", "Nia\tBC"]


@pytest.mark.parametrize("name", BAD_BC_NAMES, ids=["crlf", "rlo", "tab"])
async def test_r12_s2_bad_new_bc_name_is_refused_and_the_request_stays_pending(
    service: RequestService, demo: Engine, client: Client, name: str
) -> None:
    sub = await service.submit(
        method=RequestMethod.REQUEST_ACCESS, bc_id=AGENCY, shop_code=S2_SHOP, by=ANA
    )
    bcs = count(demo, BusinessCenter)
    command = ApproveRequest(by=NIA, new_bc_name=name, timezone="Asia/Singapore")
    refusal = await refusal_of(service.approve(sub.request_id, command))
    assert refusal.code == ErrorCode.INVALID_INPUT
    assert "new Business Center's name" in refusal.message
    assert "control characters" in refusal.message

    # A caller that skips the service (a raw client, the Temporal UI) meets the update's
    # validator: rejected, nothing written to history.
    handle = client.get_workflow_handle(sub.workflow_id)
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle.execute_update(Message.APPROVE, command)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == ErrorCode.INVALID_INPUT
    assert count(demo, BusinessCenter) == bcs
    with read_session(demo) as session:
        row = session.get(AccessRequest, sub.request_id)
        assert row is not None and row.status is RequestStatus.PENDING

    # The same form with a clean name still approves (S2 creates the BC).
    outcome = await service.approve(
        sub.request_id, ApproveRequest(by=NIA, new_bc_name="Nia's BC", timezone="UTC")
    )
    assert outcome.status is RequestStatus.APPROVED
    assert count(demo, BusinessCenter) == bcs + 1


# --- partner side (R16, R17) -------------------------------------------------------------


@pytest.fixture()
def partners(client: Client, settings: Settings, demo: Engine, worker: Any) -> PartnerService:
    return PartnerService(client, demo, settings.task_queue, timeout=20)


async def test_r16_invitation_with_a_header_in_an_address_invites_nobody(
    partners: PartnerService, demo: Engine, client: Client, settings: Settings
) -> None:
    refusal = await refusal_of(
        partners.invite_members(
            bc_id=AGENCY,
            emails=["new@brand.com", "other@brand.com\r\nBcc: evil@attacker.example"],
            role=MemberRole.STANDARD,
            ad_accounts=[],
            by=ANA,
        )
    )
    assert refusal.code == ErrorCode.INVALID_INPUT and "e-mail address" in refusal.message
    assert count(demo, Invitation) == 0  # not even the good address: all or nothing
    await no_workflows_on(client, settings.task_queue)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (
            lambda p: p.invite_members(
                bc_id=TOO_BIG, emails=["new@brand.com"], role=MemberRole.STANDARD,
                ad_accounts=[], by=ANA,
            ),
            "bc_id",
        ),
        (
            lambda p: p.invite_members(
                bc_id=AGENCY, emails=["new@brand.com"], role=MemberRole.STANDARD,
                ad_accounts=[AdAccountGrant(
                    ad_account_id=TOO_BIG, permission=AdAccountPermission.ADMIN
                )],
                by=ANA,
            ),
            "ad_account_id",
        ),
        (
            lambda p: p.share_shop(
                bc_id=AGENCY, shop_code=S1_SHOP, partner_bc_id=TOO_BIG,
                permission=Permission.AD_PROMOTION, by=ANA,
            ),
            "partner_bc_id",
        ),
    ],
    ids=["invite-bc", "invite-ad-account", "share-partner-bc"],
)  # fmt: skip
async def test_r16_r17_ids_out_of_range_start_no_workflow(
    partners: PartnerService,
    demo: Engine,
    client: Client,
    settings: Settings,
    call: Any,
    field: str,
) -> None:
    before = dump(demo)
    refusal = await refusal_of(call(partners))
    assert refusal.code == ErrorCode.INVALID_INPUT and field in refusal.message
    assert dump(demo) == before
    await no_workflows_on(client, settings.task_queue)


def test_r17_reads_refuse_ids_out_of_range(demo: Engine) -> None:
    partners = PartnerService(None, demo, "unused")
    for read in (
        lambda: partners.shops(TOO_BIG),
        lambda: partners.campaigns(bc_id=-1),
        lambda: partners.preview_removal(shop_code=S1_SHOP, partner_bc_id=TOO_BIG, by=ANA),
    ):
        with pytest.raises(Refusal) as info:
            read()
        assert info.value.code == ErrorCode.INVALID_INPUT
