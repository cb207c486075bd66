"""R15, R21: one shop walked through every transition (requested, resent,
approved, expired by the race naming the winner, cancelled, access removed by the seller),
then the BC's shop list (`requests --bc`), the seller's history page (/partners),
`requests --shop-code --json` and the Temporal UI (search attributes and summary of the
workflow that made each change) are compared: they tell one story."""

from __future__ import annotations

import html as htmllib
import re
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import Engine
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client

from client.access_requests import RequestService
from client.partners import PartnerService
from models.enums import RequestMethod
from models.messages import ApproveRequest
from models.settings import Settings
from store.history import label
from tests.conftest import AGENCY, ANA, LEE, OLI, S1_SHOP, SUBAGENCY, wait_until
from tests.test_cli import Run, run
from tests.web.conftest import csrf_in, personal_path, submit
from web.rendering import when
from workflows.summaries import request_details

# What each transition means for the Temporal UI: the RequestStatus search attribute of the
# workflow that made the change.
STATUS_AFTER = {
    "requested": "pending",
    "resent": "pending",
    "approved": "approved",
    "expired": "expired",
    "cancelled": "cancelled",
    "revoked": "revoked",
}


def _cli_env(settings: Settings, client: Client) -> dict[str, str]:
    return {
        "DATABASE_URL": settings.database_url,
        "TASK_QUEUE": settings.task_queue,
        "MAIL_OUTBOX_DIR": str(settings.mail_outbox_dir),
        "DEV_MODE": "1",
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": client.namespace,
    }


def _json_story(result: Run) -> dict[str, list[tuple[str, str, str, str]]]:
    assert result.code == 0, result.err
    return {
        row["request_id"]: [
            (t["action"], t["label"], t["actor"], t["at"]) for t in row["transitions"]
        ]
        for row in result.json["requests"]
    }


def _text(fragment: str) -> str:
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _page_story(page: str) -> dict[str, list[tuple[str, str]]]:
    """Each request row of /partners: its history items as (action, visible text)."""
    rows = re.findall(r'<tr data-request="([^"]+)"[^>]*>(.*?)</tr>', page, re.S)
    return {
        request_id: re.findall(r'<li data-action="([^"]+)">(.*?)</li>', row, re.S)
        for request_id, row in rows
    }


async def _status_attribute(client: Client, workflow_id: str, expected: str) -> dict[str, Any]:
    """The workflow's search attributes once its RequestStatus says ``expected``
    (visibility is eventually consistent)."""

    async def attributes() -> dict[str, Any] | None:
        description = await client.get_workflow_handle(workflow_id).describe()
        found = {k.name: v for k, v in description.typed_search_attributes}
        return found if found.get("RequestStatus") == expected else None

    found = await wait_until(attributes, interval=0.2, what=f"{workflow_id} is {expected}")
    assert found is not None
    return found


async def _details(client: Client, workflow_id: str) -> str:
    """The summary line the Temporal UI shows for a workflow (its current details)."""
    metadata = await client.get_workflow_handle(workflow_id).query(
        "__temporal_workflow_metadata", result_type=WorkflowMetadata
    )
    return str(metadata.current_details)


async def test_r15_r21_one_shop_through_every_transition_tells_one_story(
    http: httpx.AsyncClient,
    service: RequestService,
    settings: Settings,
    demo: Engine,
    client: Client,
) -> None:
    # requested, resent, then the other method too (R11's race)
    partner = await submit(service, S1_SHOP)
    link = personal_path(settings, partner.request_id, OLI)
    form = (await http.get(link)).text
    signed = await http.post(link + "/signin", data={"csrf": csrf_in(form, "signin")})
    assert signed.status_code == 303
    await service.resend(partner.request_id, by=ANA, copy_link=False)
    owner = await submit(service, S1_SHOP, method=RequestMethod.ADD_MY_SHOP)
    # approved: the partner request wins, the owner one expires naming it
    await service.approve(partner.request_id, ApproveRequest(by=OLI))
    # cancelled by the requesting BC's admin (R9 policy)
    withdrawn = await submit(service, S1_SHOP, bc_id=SUBAGENCY, by=LEE)
    await service.cancel(withdrawn.request_id, by=LEE)
    # access removed by the seller (R19)
    partners = PartnerService(client, demo, settings.task_queue, timeout=20)
    _ended, removal_workflow = await partners.remove_access(
        shop_code=S1_SHOP, partner_bc_id=AGENCY, by=OLI
    )

    env = _cli_env(settings, client)
    by_shop = _json_story(
        await run("starter.py", "requests", "--shop-code", S1_SHOP, "--json", env=env)
    )
    agency = _json_story(
        await run("starter.py", "requests", "--bc", str(AGENCY), "--json", env=env)
    )
    sub_agency = _json_story(
        await run("starter.py", "requests", "--bc", str(SUBAGENCY), "--json", env=env)
    )
    page = (await http.get("/partners")).text
    on_page = _page_story(page)

    # 1. The story itself: each transition, in order, with its actor.
    actions = {rid: [(a, actor) for a, _l, actor, _at in steps] for rid, steps in by_shop.items()}
    assert actions == {
        partner.request_id: [
            ("requested", ANA), ("resent", ANA), ("approved", OLI), ("revoked", OLI),
        ],
        owner.request_id: [("requested", ANA), ("expired", "system")],
        withdrawn.request_id: [("requested", LEE), ("cancelled", LEE)],
    }  # fmt: skip
    labels = {rid: [lab for _a, lab, _actor, _at in steps] for rid, steps in by_shop.items()}
    assert labels[owner.request_id][-1] == f"expired: {partner.request_id} was approved first"
    assert labels[partner.request_id][-1] == "access removed"

    # 2. The BC's shop list (R8) tells the same story as the shop's history (R15).
    assert agency == {k: by_shop[k] for k in (partner.request_id, owner.request_id)}
    assert sub_agency == {withdrawn.request_id: by_shop[withdrawn.request_id]}

    # 3. The seller's page shows every transition with its time and actor.
    assert set(on_page) == set(by_shop)
    for request_id, steps in by_shop.items():
        shown = on_page[request_id]
        assert [a for a, _ in shown] == [a for a, *_ in steps]
        for (_a, text), (_action, step_label, actor, at) in zip(shown, steps, strict=True):
            # In the shop's linked BC's timezone (R28), as the shop's approval page shows it.
            moment = when(datetime.fromisoformat(at), "Europe/London")
            who = "automatically" if actor == "system" else f"by {actor}"
            assert _text(text) == f"{moment} {step_label} {who}"
    assert 'data-status="revoked"' in page and 'data-status="expired"' in page

    # 4. The Temporal UI: the workflow that made each last change carries its status, and
    # the removal names the BC, the shop and who removed it.
    for sub in (owner, withdrawn):
        last = by_shop[sub.request_id][-1][0]
        attrs = await _status_attribute(client, sub.workflow_id, STATUS_AFTER[last])
        assert attrs["ShopCode"] == S1_SHOP
        assert f"**{STATUS_AFTER[last]}**" in await _details(client, sub.workflow_id)
    approval = await _status_attribute(client, partner.workflow_id, "approved")
    assert approval["BusinessCenterId"] == str(AGENCY)
    assert (await _details(client, partner.workflow_id)).startswith("**approved**")
    removal = await _status_attribute(client, removal_workflow, "revoked")
    assert removal["BusinessCenterId"] == str(AGENCY) and removal["ShopCode"] == S1_SHOP
    summary = await client.get_workflow_handle(removal_workflow).describe()
    assert f"Remove BC {AGENCY}" in (await summary.static_summary() or "")
    details = await _details(client, removal_workflow)
    assert f"access removed by {OLI}: BC {AGENCY} from shop {S1_SHOP}" in details


def test_r11_request_details_name_the_winner() -> None:
    details = request_details(
        status="expired", method_label="Add my TikTok Shop", bc_id=1, shop_code="S",
        request_id="req_b", superseded_by="req_a",
    )  # fmt: skip
    assert details.endswith("request req_b · req_a was approved first")


def test_r21_unknown_and_new_actions_get_readable_labels() -> None:
    """Actions other features add (decline R22, end dates R23) read as words, never vanish."""
    assert label("declined", "oli@shop.com", {"reason": "not now"}) == "declined: not now"
    assert label("revoked", "system", {"reason": "end_date"}) == "access ended by its end date"
    assert label("revoked", "system", {}) == "access ended automatically"
    assert label("revoked", "oli@shop.com", {"removal_id": "rm-1"}) == ("access removed")
    assert label("some_new_step", "system", {}) == "some new step"
