"""R24 + R20: a bulk request whose worker PROCESS is SIGKILLed while it admits finishes
after a new worker starts, with every shop code admitted exactly once (one row each, the
row the bulk reports) and none skipped."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from client.bulk import BulkService
from models.enums import RequestMethod
from models.settings import Settings
from tests.bulk_support import BULK_ADMIN, BULK_BC, BULK_SHOPS, admitted_per_shop, bulk_data, rows
from tests.conftest import (
    WAIT_SECONDS,
    load_data,
    start_worker_process,
    wait_until,
)

ROOT = Path(__file__).resolve().parent.parent
CODES = BULK_SHOPS[:20]  # R4's whole day: no wait in this test

pytestmark = pytest.mark.slow


async def test_r24_bulk_survives_a_killed_worker_and_admits_each_code_once(
    temporal_env: WorkflowEnvironment, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    load_data(engine, bulk_data())
    client = temporal_env.client
    address = client.service_client.config.target_host
    log = tmp_path / "worker.log"
    bulk = BulkService(client, engine, settings.task_queue, timeout=2 * WAIT_SECONDS)
    first = await start_worker_process(settings, address, log)
    second = None
    try:
        bulk_id = await bulk.start(
            method=RequestMethod.REQUEST_ACCESS, bc_id=BULK_BC, shop_codes=CODES, by=BULK_ADMIN
        )
        # The first rows wait for the worker process to start: seconds of CPU.
        await wait_until(
            lambda: len(rows(engine)) >= 3,
            timeout=4 * WAIT_SECONDS,
            interval=0.01,
            what="a few codes admitted",
        )
        first.send_signal(signal.SIGKILL)
        await first.wait()
        at_kill = len(rows(engine))
        assert 3 <= at_kill < len(CODES), at_kill

        second = await start_worker_process(settings, address, log)

        async def completed() -> bool:
            return (await bulk.progress(bulk_id)).status == "completed"

        await wait_until(completed, timeout=4 * WAIT_SECONDS, interval=0.2, what="completed")
        result = await bulk.progress(bulk_id)
    finally:
        for proc in (first, second):
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()

    assert (result.admitted, result.refused) == (len(CODES), 0), log.read_text()[-2000:]
    assert admitted_per_shop(engine) == dict.fromkeys(CODES, 1)  # none twice, none skipped
    reported = {r.shop_code: r.request_id for r in result.results}
    assert {(request_id, code) for request_id, code, _day in rows(engine)} == {
        (request_id, code) for code, request_id in reported.items()
    }
