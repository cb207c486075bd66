"""``starter.py remove-access --wait`` (R19): a removal of a few hundred
campaigns, followed through the removal workflow's ``progress`` query. With ``--json``:
one line per step, counts never going back, the total known from the store, and the
result last, matching the store. On a terminal: a progress bar that reaches 100 %."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import sys
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from client.progress import follow_removal
from models.errors import ErrorCode, Refusal
from models.names import PartnerWorkflowType
from models.partner_messages import RemovalInput
from models.settings import Settings
from store.campaigns import bulk_insert_delivering
from store.db import write_session
from store.people import find_user
from tests.conftest import AGENCY, ANA, OLI, S1_SHOP
from tests.partners_support import (
    AGENCY_ADS,
    campaign_counts,
    grant_in_store,
    load_extra,
    shop_id_of,
    stop_events_per_campaign,
)
from tests.test_cli import ROOT

CAMPAIGNS = 300


@pytest.fixture()
def partner_with_campaigns(demo: Engine) -> Engine:
    load_extra(demo)
    grant_in_store(demo, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    with write_session(demo) as session:
        ana = find_user(session, ANA)
        assert ana is not None and ana.id is not None
        bulk_insert_delivering(
            session, ad_account_id=AGENCY_ADS, shop_id=shop_id_of(demo, S1_SHOP),
            created_by_user_id=ana.id, count=CAMPAIGNS,
        )  # fmt: skip
    return demo


def cli_env(settings: Settings, temporal_env: WorkflowEnvironment) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "TASK_QUEUE": settings.task_queue,
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": temporal_env.client.namespace,
        "DEV_MODE": "1",
    }


REMOVE = (
    "starter.py", "remove-access", "--shop-code", S1_SHOP, "--partner-bc", str(AGENCY),
    "--as", OLI, "--wait", "--page-size", "25",
)  # fmt: skip


async def test_r19_wait_json_prints_each_step_then_the_result(
    partner_with_campaigns: Engine,
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    worker: Any,
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *REMOVE, "--json", cwd=ROOT, env=cli_env(settings, temporal_env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    lines = [json.loads(line) for line in out.decode().splitlines()]
    *steps, result = lines

    assert steps and all(set(line) == {"progress"} for line in steps), lines
    progress = [s["progress"] for s in steps]
    stopped = [p["campaigns_stopped"] for p in progress]
    pages = [p["pages"] for p in progress]
    assert stopped == sorted(stopped) and pages == sorted(pages), progress
    assert len({json.dumps(p, sort_keys=True) for p in progress}) == len(progress)  # changes
    assert progress[-1]["status"] == "completed"
    assert {p["campaigns_total"] for p in progress if p["status"] != "ending_grants"} == {CAMPAIGNS}
    assert progress[-1]["campaigns_stopped"] == CAMPAIGNS
    assert progress[-1]["pages"] >= CAMPAIGNS // 25

    assert "progress" not in result
    assert (result["status"], result["campaigns_stopped"]) == ("completed", CAMPAIGNS)
    assert result["lost_bc_ids"] == [str(AGENCY)]
    assert campaign_counts(partner_with_campaigns, AGENCY) == {
        "delivering": 0,
        "stopped": CAMPAIGNS,
    }
    events = stop_events_per_campaign(partner_with_campaigns)
    assert len(events) == CAMPAIGNS and set(events.values()) == {1}


async def test_r19_wait_on_a_terminal_draws_a_progress_bar_to_the_end(
    partner_with_campaigns: Engine,
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    worker: Any,
) -> None:
    """stderr on a pseudo-terminal, as when ops run it by hand: the bar is drawn there and
    ends at 100 %; stdout keeps the one-line result."""
    leader, follower = pty.openpty()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *REMOVE, cwd=ROOT, env={**cli_env(settings, temporal_env),
            "TERM": "xterm"}, stdout=asyncio.subprocess.PIPE, stderr=follower,
        )  # fmt: skip
        os.close(follower)
        drawn = bytearray()

        def drain() -> None:
            while True:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the terminal closed with the process
                    return
                if not chunk:
                    return
                drawn.extend(chunk)

        reader = asyncio.get_running_loop().run_in_executor(None, drain)
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
        await asyncio.wait_for(reader, 10)
    finally:
        os.close(leader)
    assert proc.returncode == 0, drawn.decode(errors="replace")
    bar = drawn.decode(errors="replace")
    assert "Stopping campaigns" in bar and "100%" in bar, bar
    assert out.decode().strip().endswith(f"{CAMPAIGNS} campaigns stopped.")
    assert campaign_counts(partner_with_campaigns, AGENCY)["stopped"] == CAMPAIGNS


async def test_waiting_with_no_worker_ends_with_service_unavailable(client: Client) -> None:
    """No worker answers the progress query: --wait stops waiting with the CLI's
    service_unavailable, saying the removal carries on (it is not cancelled)."""
    workflow_id = f"remove-access:test-{uuid.uuid4().hex[:10]}"
    await client.start_workflow(
        PartnerWorkflowType.REMOVE_ACCESS,
        RemovalInput(
            removal_id="rm_nobody", shop_id=1, shop_code="NOBODY01", partner_bc_id=AGENCY, by=OLI
        ),
        id=workflow_id,
        task_queue=f"no-worker-{uuid.uuid4().hex[:10]}",
    )
    handle = client.get_workflow_handle(workflow_id)
    try:
        with pytest.raises(Refusal) as refused:
            async for _step in follow_removal(client, workflow_id, timeout=1):
                pass
        assert refused.value.code == ErrorCode.SERVICE_UNAVAILABLE
        assert "No worker answered" in refused.value.message
        assert "carries on once a worker is back" in refused.value.message
        description = await handle.describe()
        assert description.status is WorkflowExecutionStatus.RUNNING  # nothing ended
    finally:
        await handle.terminate(reason="test finished")
