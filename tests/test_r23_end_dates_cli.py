"""R23 from the CLI, against the dev server and the real worker: `access-until` sets,
changes and clears an end date (its timer follows), `share-shop --until` refuses a date
past the sharer's own and then shares with one, `assign-member --until` too, and `shops`
shows the dates."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from models.end_date_messages import EndDateState
from models.names import EndDateName, access_end_workflow_id
from models.settings import Settings
from models.tables import BCPartner, utcnow
from store.db import write_session
from tests.conftest import AGENCY, ANA, OLI, S1_SHOP, SAM, SUBAGENCY, wait_until
from tests.partners_support import grant_in_store, snapshot


async def _cli(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    from click.testing import CliRunner

    from starter import cli

    result = await asyncio.to_thread(
        CliRunner().invoke, cli, [*args, "--json"], env=env, catch_exceptions=False
    )
    return result.exit_code, json.loads(result.output.strip().splitlines()[-1])


async def test_r23_cli_sets_changes_clears_and_limits_end_dates(
    temporal_env: WorkflowEnvironment, client: Client, demo, settings: Settings, worker
) -> None:  # type: ignore[no-untyped-def]
    grant_in_store(demo, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    with write_session(demo) as session:
        session.add(BCPartner(bc_id=AGENCY, partner_bc_id=SUBAGENCY, created_at=utcnow()))
    env = {
        "DATABASE_URL": settings.database_url,
        "DEV_MODE": "1",
        "TASK_QUEUE": settings.task_queue,
        "MAIL_OUTBOX_DIR": str(settings.mail_outbox_dir),
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
    }
    day = date.today() + timedelta(days=20)
    target = ["--shop-code", S1_SHOP, "--partner-bc", str(AGENCY), "--as", OLI]
    code, out = await _cli(env, "access-until", *target, "--until", day.isoformat())
    assert code == 0, out
    grant_id = out["grant_ids"][0]
    timer = client.get_workflow_handle(access_end_workflow_id(grant_id))

    async def armed_for(prefix: str) -> bool:
        state = await timer.query(EndDateName.STATE, result_type=EndDateState)
        return state.ends_at is not None and state.ends_at.isoformat().startswith(prefix)

    after = (day + timedelta(days=1)).isoformat()
    await wait_until(lambda: armed_for(after), what="the timer armed")

    # A share may not outlast the sharer's access (nothing changes); within it, it may.
    share = ["--bc", str(AGENCY), "--shop-code", S1_SHOP, "--partner-bc", str(SUBAGENCY)]
    share += ["--permission", "ad_promotion", "--as", ANA]
    before = snapshot(demo)
    late = (day + timedelta(days=5)).isoformat()
    code, out = await _cli(env, "share-shop", *share, "--until", late)
    assert code == 1 and out["error"]["code"] == "end_date_too_late", out
    assert snapshot(demo) == before
    code, out = await _cli(env, "share-shop", *share, "--until", day.isoformat())
    assert code == 0 and out["status"] == "shared" and out["ends_at"].startswith(after), out

    assign = ["--bc", str(AGENCY), "--shop-code", S1_SHOP, "--member", SAM]
    assign += ["--permission", "ad_promotion", "--as", ANA]
    code, out = await _cli(env, "assign-member", *assign, "--until", late)
    assert code == 1 and out["error"]["code"] == "end_date_too_late", out
    code, out = await _cli(env, "assign-member", *assign, "--until", day.isoformat())
    assert code == 0 and out["ends_at"].startswith(after), out

    code, out = await _cli(env, "shops", "--bc", str(SUBAGENCY))
    assert code == 0 and out["shops"][0]["ends_at"].startswith(after), out

    later = (day + timedelta(days=10)).isoformat()
    code, out = await _cli(env, "access-until", *target, "--until", later)
    assert code == 0, out
    await wait_until(
        lambda: armed_for((day + timedelta(days=11)).isoformat()), what="the timer re-armed"
    )
    code, out = await _cli(env, "access-until", *target, "--clear")
    assert code == 0 and out["ends_at"] is None, out

    async def closed() -> bool:
        return (await timer.describe()).status is WorkflowExecutionStatus.COMPLETED

    await wait_until(closed, what="the timer ended")
