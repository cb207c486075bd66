"""R24 bulk requests at their entries: the file parser (bad lines refuse the whole file,
naming the line), the CLI (`request-access --shop-codes-file`, `--wait`, `bulk-status`,
`bulk-cancel`, `quota`, the quota line of `requests --bc`) and cancelling a waiting bulk.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from client.bulk import MAX_CODES, BulkService, parse_shop_codes
from models.bulk_messages import BulkProgress
from models.enums import RequestMethod
from models.errors import ErrorCode, Refusal
from models.names import bulk_workflow_id
from models.settings import Settings
from tests.bulk_support import BULK_ADMIN, BULK_BC, BULK_SHOPS, admitted_per_shop, bulk_data, rows
from tests.conftest import (
    WAIT_SECONDS,
    can_suggesting_worker,
    closed_runs,
    load_data,
    wait_until,
)
from tests.test_cli import cli_env, dump, refused, run

__all__ = ["cli_env"]  # the fixture, used by name below

# --- the file ------------------------------------------------------------------------------


def test_r24_plain_file_one_code_per_line_blank_lines_skipped_codes_upper_cased() -> None:
    assert parse_shop_codes("\ufeffbulkshop01\n\n  BULKSHOP02  \r\nBulkShop03\n") == [
        "BULKSHOP01",
        "BULKSHOP02",
        "BULKSHOP03",
    ]


def test_r24_csv_file_with_a_header_takes_the_shop_code_column() -> None:
    text = 'name,Shop Code,notes\n"Store, one",bulkshop01,x\nTwo,BULKSHOP02,\n'
    assert parse_shop_codes(text) == ["BULKSHOP01", "BULKSHOP02"]
    assert parse_shop_codes("code\nBULKSHOP09\n") == ["BULKSHOP09"]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("BULKSHOP01\nnot a code\n", 2, "'not a code' is not a shop code"),
        ("BULKSHOP01\n\nAB\n", 3, "'AB' is not a shop code"),
        ("BULKSHOP01\nbulkshop02\nBULKSHOP01\n", 3, "already on line 1"),
        ("name,notes\nx,y\n", 1, "shop_code column"),
        ("shop_code,name\nBULKSHOP01,a\n,b\n", 3, "no shop code"),
    ],
)
def test_r24_a_bad_line_refuses_the_whole_file_naming_the_line(
    text: str, line: int, words: str
) -> None:
    with pytest.raises(Refusal) as err:
        parse_shop_codes(text)
    assert err.value.code == ErrorCode.INVALID_INPUT
    assert err.value.details == {"line": line}
    assert err.value.message.startswith(f"Line {line}: ") and words in err.value.message


@pytest.mark.parametrize(
    "text", ["", "\n \n", "shop_code\n", "\n".join(f"CODE{i:04d}" for i in range(MAX_CODES + 1))]
)
def test_r24_an_empty_or_oversized_file_is_refused(text: str) -> None:
    with pytest.raises(Refusal) as err:
        parse_shop_codes(text)
    assert err.value.code == ErrorCode.INVALID_INPUT


# --- the CLI -----------------------------------------------------------------------------


@pytest.mark.slow
async def test_r24_bulk_through_the_cli_with_wait_status_quota_and_refusals(
    engine: Engine, worker: Any, cli_env: dict[str, str], tmp_path: Path
) -> None:
    load_data(engine, bulk_data())
    bad = tmp_path / "bad.txt"
    bad.write_text("BULKSHOP01\nBULKSHOP02\nBULK SHOP 3\n")
    good = tmp_path / "codes.csv"
    good.write_text("shop_code\nbulkshop01\nUNKNOWN0000\nBULKSHOP02\n")
    ask = ("starter.py", "request-access", "--bc", str(BULK_BC), "--json")
    before = dump(engine)

    # Refusals change nothing: no bulk starts, no request is admitted.
    bad_file = await run(*ask, "--shop-codes-file", str(bad), "--as", BULK_ADMIN, env=cli_env)
    assert "Line 3" in refused(bad_file, "invalid_input")
    both = await run(
        *ask, "--shop-code", "BULKSHOP01", "--shop-codes-file", str(good), "--as", BULK_ADMIN,
        env=cli_env,
    )  # fmt: skip
    assert both.code == 2 and both.json["error"]["code"] == "usage_error"
    assert "not both" in both.json["error"]["message"]
    missing = await run(
        *ask, "--shop-codes-file", str(tmp_path / "nope.txt"), "--as", BULK_ADMIN, env=cli_env
    )
    assert "Cannot read" in refused(missing, "invalid_input")
    stranger = await run(
        *ask, "--shop-codes-file", str(good), "--as", "someone@else.example", env=cli_env
    )
    refused(stranger, "not_bc_admin")
    assert dump(engine) == before

    # --wait --json: progress lines, then the result with one answer per code.
    done = await run(
        *ask, "--shop-codes-file", str(good), "--as", BULK_ADMIN, "--wait", env=cli_env
    )
    assert done.code == 0, done.err
    lines = [json.loads(line) for line in done.out.strip().splitlines()]
    assert len(lines) >= 2 and all(set(line) == {"progress"} for line in lines[:-1])
    assert lines[-2]["progress"]["status"] == "completed"
    result = lines[-1]
    assert (result["status"], result["admitted"], result["refused"]) == ("completed", 2, 1)
    answers = {r["shop_code"]: (r["outcome"], r["refusal_code"]) for r in result["results"]}
    assert answers == {
        "BULKSHOP01": ("admitted", None),
        "UNKNOWN0000": ("refused", "unknown_shop_code"),
        "BULKSHOP02": ("admitted", None),
    }
    admitted = {r["request_id"] for r in result["results"] if r["outcome"] == "admitted"}
    assert admitted == {request_id for request_id, _code, _day in rows(engine)}

    bulk_id = result["bulk_id"]
    status, quota, listing, cancel, unknown = (
        await run("starter.py", "bulk-status", bulk_id, "--json", env=cli_env),
        await run("starter.py", "quota", "--bc", str(BULK_BC), "--json", env=cli_env),
        await run("starter.py", "requests", "--bc", str(BULK_BC), "--json", env=cli_env),
        await run("starter.py", "bulk-cancel", bulk_id, "--as", BULK_ADMIN, "--json", env=cli_env),
        await run("starter.py", "bulk-status", "bulk_0000000000000000", "--json", env=cli_env),
    )
    assert status.code == 0 and status.json == result
    assert quota.code == 0
    assert {k: quota.json[k] for k in ("used", "remaining", "limit")} == {
        "used": 2, "remaining": 18, "limit": 20,
    }  # fmt: skip
    assert listing.json["quota"]["remaining"] == 18 and len(listing.json["requests"]) == 2
    assert "completed" in refused(cancel, "bulk_not_running")
    refused(unknown, "unknown_bulk")

    # For people: a progress bar on stderr, the result on stdout. Without --wait: the id.
    more = tmp_path / "more.txt"
    more.write_text("BULKSHOP03\n")
    human = await run(
        "starter.py", "request-access", "--bc", str(BULK_BC), "--shop-codes-file", str(more),
        "--as", BULK_ADMIN, "--wait", env=cli_env,
    )  # fmt: skip
    assert human.code == 0, human.err
    assert "completed, 1 admitted, 0 refused of 1." in human.out and "Shop codes" in human.err
    more.write_text("BULKSHOP04\n")
    started = await run(*ask, "--shop-codes-file", str(more), "--as", BULK_ADMIN, env=cli_env)
    assert started.code == 0 and started.json["status"] == "running"
    assert started.json["bulk_id"].startswith("bulk_") and started.json["shop_codes"] == 1


# --- cancelling ----------------------------------------------------------------------------


async def test_r24_cancel_a_waiting_bulk_ends_the_codes_not_tried_and_keeps_the_admitted(
    engine: Engine, worker: Any, settings: Settings
) -> None:
    load_data(engine, bulk_data())
    bulk = BulkService(worker.client, engine, settings.task_queue, timeout=WAIT_SECONDS)
    codes = BULK_SHOPS[:23]
    bulk_id = await bulk.start(
        method=RequestMethod.REQUEST_ACCESS, bc_id=BULK_BC, shop_codes=codes, by=BULK_ADMIN
    )

    async def waiting() -> bool:
        step = await bulk.progress(bulk_id)
        return step.status == "waiting" and step.admitted == 20

    await wait_until(waiting, timeout=3 * WAIT_SECONDS, interval=0.2, what="20 admitted, waiting")
    with pytest.raises(Refusal) as not_admin:
        await bulk.cancel(bulk_id, by="someone@else.example")
    assert not_admin.value.code == ErrorCode.NOT_BC_ADMIN

    await bulk.cancel(bulk_id, by=BULK_ADMIN)

    async def cancelled() -> bool:
        return (await bulk.progress(bulk_id)).status == "cancelled"

    await wait_until(cancelled, what="cancelled")
    final = await bulk.progress(bulk_id)
    assert (final.admitted, final.cancelled, final.refused) == (20, 3, 0)
    assert [r.outcome for r in final.results[20:]] == ["cancelled"] * 3
    assert admitted_per_shop(engine) == dict.fromkeys(codes[:20], 1)
    with pytest.raises(Refusal) as again:
        await bulk.cancel(bulk_id, by=BULK_ADMIN)
    assert again.value.code == ErrorCode.BULK_NOT_RUNNING
    if out := os.environ.get("BULK_HISTORY_OUT"):  # the committed replay history
        history = await worker.client.get_workflow_handle(bulk_workflow_id(bulk_id)).fetch_history()
        path = Path(out) / "BulkAccessRequest_cancelled_waiting.json"
        path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")


# --- continue-as-new -----------------------------------------------------------------------


async def test_r24_bulk_continues_as_new_and_keeps_every_result(
    engine: Engine, settings: Settings
) -> None:
    load_data(engine, bulk_data())
    codes = BULK_SHOPS[:8]
    async with can_suggesting_worker(settings, engine) as client:
        bulk = BulkService(client, engine, settings.task_queue, timeout=WAIT_SECONDS)
        bulk_id = await bulk.start(
            method=RequestMethod.REQUEST_ACCESS, bc_id=BULK_BC, shop_codes=codes, by=BULK_ADMIN
        )
        handle = client.get_workflow_handle(bulk_workflow_id(bulk_id), result_type=BulkProgress)
        result = await asyncio.wait_for(handle.result(), 3 * WAIT_SECONDS)
        runs = await closed_runs(client, bulk_workflow_id(bulk_id))
    assert len(runs) > 1  # it did move to new runs
    assert (result.status, result.admitted, result.total) == ("completed", 8, 8)
    assert admitted_per_shop(engine) == dict.fromkeys(codes, 1)
    assert {r.request_id for r in result.results} == {
        request_id for request_id, _code, _day in rows(engine)
    }
