"""Removing a partner's access to a shop with 10,000 delivering campaigns (R19).

    .venv/bin/python bench/removal.py [--campaigns 10000] [--downstream-share 0.2] [--postgres]
                                      [--page-size 2000] [--batch-size 500]

Starts its own dev server (fresh SQLite file, headless, free port, tuned like the quick
start) and the real worker (``python worker.py``) in its own process, on a fresh SQLite
store with the demo data set: Agency One holds the demo S1 shop and shared it with the
Sub-agency; their campaigns (``--downstream-share`` of them the sub-agency's) all use the
shop; another agency's 500 campaigns on the same shop must keep delivering.

Measures, from the seller's click (PartnerService.remove_access) to the workflow's result:
the time until the grant has ended (the answer the seller waits for), the wall time until
every campaign has stopped, and campaigns stopped per second. Then checks the record:
every campaign stopped exactly once (one audit event each), the other agency untouched.
Prints progress lines, then one JSON object as the last line. Target: under 20 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    DevServer,
    WorkerProcess,
    client_for,
    dev_server,
    log,
    sampling,
    start_worker,
    stop_process,
    workdir,
    worker_env,
)
from bench.scratch_database import create_database, drop_database
from bench.store_queries import campaign_stop_events, campaigns_by_bc_and_status
from client.partners import PartnerService
from models.enums import Permission, RequestMethod
from models.fields import EXACT_INTS
from models.partner_enums import CampaignStatus
from models.reference import ReferenceData
from store import invitations, sharing
from store.admission import admit_request
from store.approval import decide_approval
from store.campaigns import bulk_insert_delivering
from store.db import make_engine, read_session, write_session
from store.migrate import upgrade
from store.people import find_shop_by_code, find_user
from store.reference import load_reference

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 20.0
SHOP = "GBLINKED01"  # the demo's S1 shop: linked BC, seller oli@brand-linked.com
SELLER = "oli@brand-linked.com"
AGENCY, AGENCY_ADMIN, AGENCY_ADS = 7100000000000000001, "ana@agency-one.com", 7200000000000000001
SUB, SUB_ADMIN, SUB_ADS = 7100000000000000002, "lee@subagency.com", 7200000000000000002
OTHER, OTHER_ADMIN, OTHER_ADS = 7100000000000000009, "max@other-agency.com", 7200000000000000009
OTHER_CAMPAIGNS = 500
EXTRA = {
    "users": [{"email": OTHER_ADMIN, "name": "Max (Other Agency admin)"}],
    "business_centers": [
        {
            "id": OTHER,
            "name": "Other Agency",
            "type": "agency",
            "country": "GB",
            "timezone": "Europe/London",
            "members": [{"email": OTHER_ADMIN, "role": "admin"}],
            "ad_accounts": [{"id": OTHER_ADS, "name": "Other Agency - Ads"}],
        }
    ],
}


def _grant(engine: Any, bc_id: int, admin: str, shop_id: int) -> None:
    """R14 straight in the store: admitted, approved by the seller (S1), granted."""
    request_id = "req_" + uuid.uuid4().hex[:20]
    with write_session(engine) as session:
        admit_request(
            session,
            request_id=request_id,
            method=RequestMethod.REQUEST_ACCESS,
            bc_id=bc_id,
            shop_id=shop_id,
            requested_by=admin,
            workflow_id="bench-" + request_id,
        )
    with write_session(engine) as session:
        # R14: approving writes the grant in the same transaction.
        decide_approval(session, request_id=request_id, by=SELLER)


def prepare(url: str, campaigns: int, downstream_share: float) -> tuple[Any, str, dict[str, int]]:
    engine = make_engine(url)
    upgrade(engine)
    demo = json.loads((ROOT / "devtools" / "data" / "demo.json").read_text())
    with write_session(engine) as session:
        load_reference(
            session, ReferenceData.model_validate(demo, context=EXACT_INTS), actor="bench"
        )
        load_reference(
            session, ReferenceData.model_validate(EXTRA, context=EXACT_INTS), actor="bench"
        )
    with read_session(engine) as session:
        shop = find_shop_by_code(session, SHOP)
        assert shop is not None and shop.id is not None
        shop_id = shop.id
    _grant(engine, AGENCY, AGENCY_ADMIN, shop_id)
    _grant(engine, OTHER, OTHER_ADMIN, shop_id)
    with write_session(engine) as session:  # R17: the agency shares with its sub-agency
        sharing.offer_partner_shop(
            session,
            invitation_id="inv_bench",
            bc_id=AGENCY,
            partner_bc_id=SUB,
            shop_id=shop_id,
            permission=Permission.AD_PROMOTION,
            by=AGENCY_ADMIN,
            workflow_id="bench",
        )
    with write_session(engine) as session:
        invitations.accept_invitation(session, invitation_id="inv_bench", by=SUB_ADMIN)
    downstream = int(campaigns * downstream_share)
    plan = [
        (AGENCY_ADS, AGENCY_ADMIN, campaigns - downstream),
        (SUB_ADS, SUB_ADMIN, downstream),
        (OTHER_ADS, OTHER_ADMIN, OTHER_CAMPAIGNS),
    ]
    with write_session(engine) as session:
        for account, who, count in plan:
            user = find_user(session, who)
            assert user is not None and user.id is not None
            bulk_insert_delivering(
                session,
                ad_account_id=account,
                shop_id=shop_id,
                created_by_user_id=user.id,
                count=count,
            )
    return (
        engine,
        url,
        {
            "agency": campaigns - downstream,
            "sub_agency": downstream,
            "other_agency": OTHER_CAMPAIGNS,
        },
    )


async def _polling(log_path: Path, timeout: float = 60.0) -> None:
    """Until the worker says it polls: the clock starts with a worker ready, as in use."""
    deadline = time.monotonic() + timeout
    while "Worker polling task queue" not in (
        log_path.read_text(errors="replace") if log_path.exists() else ""
    ):
        if time.monotonic() > deadline:
            raise TimeoutError(f"worker did not start: {log_path}")
        await asyncio.sleep(0.05)


PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def check(engine: Any, campaigns: int) -> dict[str, Any]:
    by_bc = campaigns_by_bc_and_status(engine)
    events, distinct = campaign_stop_events(engine)
    stopped = by_bc.get((AGENCY, "stopped"), 0) + by_bc.get((SUB, "stopped"), 0)
    return {
        "stopped": stopped,
        "stop_events": events,
        "stopped_exactly_once": events == distinct == campaigns == stopped,
        "others_untouched": by_bc.get((OTHER, CampaignStatus.DELIVERING.value), 0)
        == OTHER_CAMPAIGNS,
    }


@dataclass
class Timed:
    """One removal as measured: its outcome, durations and the worker's CPU."""

    ended: Any
    workflow_id: str
    result: Any
    grants_ended: float
    wall: float
    cpu: float


async def timed_removal(
    partners: PartnerService, worker: WorkerProcess, args: argparse.Namespace
) -> Timed:
    """The removal from the seller's call to its last campaign stopped, sampled."""
    async with sampling([worker]):
        cpu0 = worker.cpu_seconds()
        started = time.perf_counter()
        ended, workflow_id = await partners.remove_access(
            shop_code=SHOP,
            partner_bc_id=AGENCY,
            by=SELLER,
            page_size=args.page_size,
            batch_size=args.batch_size,
        )
        grants_ended = time.perf_counter() - started
        log(f"grants ended after {grants_ended * 1000:.0f} ms; stopping campaigns")
        result = await partners.removal_result(workflow_id)
        wall = time.perf_counter() - started
        cpu = worker.cpu_seconds() - cpu0
    return Timed(ended, workflow_id, result, grants_ended, wall, cpu)


async def _remove_once(
    server: DevServer, directory: Path, engine: Any, url: str, args: argparse.Namespace
) -> tuple[Timed, int, WorkerProcess]:
    """A worker on a fresh queue, the preview, then the timed removal; the history's size."""
    queue = f"bench-removal-{uuid.uuid4().hex[:8]}"
    worker = start_worker(
        "worker",
        ["worker.py"],
        worker_env(server, url, queue, directory / "outbox"),
        directory,
    )
    try:
        client = await client_for(server)
        await _polling(worker.log_path)
        partners = PartnerService(client, engine, queue, timeout=60)
        preview = partners.preview_removal(shop_code=SHOP, partner_bc_id=AGENCY, by=SELLER)
        log(
            f"preview: {preview.total_delivering_campaigns} campaigns stop, "
            f"downstream {[d.bc_name for d in preview.downstream]}"
        )
        timed = await timed_removal(partners, worker, args)
        history = await client.get_workflow_handle(timed.workflow_id).fetch_history()
    finally:
        stop_process(worker.proc)
    return timed, len(history.events), worker


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with workdir(keep=args.keep) as directory:
        log(f"preparing {args.campaigns} campaigns in {directory}")
        url = f"sqlite:///{directory / 'store.db'}"
        if args.postgres:
            url = create_database(args.postgres, "shop_access_bench_")
        engine, url, split = prepare(url, args.campaigns, args.downstream_share)
        async with dev_server(directory, tuned=True) as server:
            timed, history_events, worker = await _remove_once(server, directory, engine, url, args)
        verdict = check(engine, args.campaigns)
        engine.dispose()
        if args.postgres:
            drop_database(args.postgres, url)
    wall, result = timed.wall, timed.result
    rate = result.campaigns_stopped / wall if wall else 0.0
    log(f"{result.campaigns_stopped} campaigns stopped in {wall:.2f} s ({rate:.0f}/s)")
    return {
        "benchmark": "removal",
        "store": "postgresql" if args.postgres else "sqlite",
        "campaigns": args.campaigns,
        "split": split,
        "page_size": args.page_size,
        "batch_size": args.batch_size,
        "grants_ended_ms": round(timed.grants_ended * 1000, 1),
        "wall_seconds": round(wall, 3),
        "campaigns_per_second": round(rate, 1),
        "campaigns_stopped": result.campaigns_stopped,
        "lost_bc_ids": timed.ended.lost_bc_ids,
        "history_events": history_events,
        "worker_cpu_seconds": round(timed.cpu, 2),
        "worker_peak_rss_mb": round(worker.peak_rss / 2**20, 1),
        **verdict,
        "target_seconds": TARGET_SECONDS,
        "met_target": wall < TARGET_SECONDS and bool(verdict["stopped_exactly_once"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=10_000)
    parser.add_argument("--downstream-share", type=float, default=0.2)
    parser.add_argument("--page-size", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--keep", action="store_true", help="Keep the work directory.")
    parser.add_argument(
        "--postgres",
        metavar="ADMIN_URL",
        nargs="?",
        const=PG_ADMIN_URL,
        default=None,
        help="Use a fresh PostgreSQL database (created and dropped through ADMIN_URL).",
    )
    summary = asyncio.run(run(parser.parse_args()))
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
