"""`starter.py decline REQUEST_ID --as EMAIL [--reason TEXT]` (R22) and the BC's shop list
showing how long each request has waited (R25), as scripts run them: refusals exit 1 with
the JSON error contract and change nothing; success exits 0 with the request's result."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from models.enums import RequestStatus
from models.tables import AccessRequest
from store.db import read_session
from tests.conftest import AGENCY, ANA, KIM, OLI, S1_SHOP
from tests.test_cli import cli_env, refused, run

__all__ = ["cli_env"]  # the fixture, shared with test_cli.py


def status_of(engine: Engine, request_id: str) -> RequestStatus:
    with read_session(engine) as session:
        row = session.get(AccessRequest, request_id)
        assert row is not None
        return row.status


@pytest.mark.slow
async def test_r22_decline_through_the_cli(
    demo: Engine, worker: Any, cli_env: dict[str, str]
) -> None:
    submitted = await run(
        "starter.py", "request-access", "--bc", str(AGENCY), "--shop-code", S1_SHOP,
        "--as", ANA, "--json", env=cli_env,
    )  # fmt: skip
    assert submitted.code == 0, submitted.err
    request_id = submitted.json["request_id"]

    listing = await run("starter.py", "requests", "--bc", str(AGENCY), "--json", env=cli_env)
    (row,) = listing.json["requests"]
    assert row["status"] == "pending" and isinstance(row["waited_seconds"], int)
    human = await run("starter.py", "requests", "--bc", str(AGENCY), env=cli_env)
    assert "waiting " in human.out

    outsider = await run("starter.py", "decline", request_id, "--as", KIM, "--json", env=cli_env)
    assert KIM in refused(outsider, "not_shop_team")
    bad_reason = await run(
        "starter.py", "decline", request_id, "--as", OLI, "--reason", "a\u202eb", "--json",
        env=cli_env,
    )  # fmt: skip
    assert "control characters" in refused(bad_reason, "invalid_input")
    missing_as = await run("starter.py", "decline", request_id, "--json", env=cli_env)
    assert missing_as.code == 2  # a usage error: exit 2, still the JSON contract
    assert missing_as.json["error"]["code"] == "usage_error" and "--as" in missing_as.out
    assert status_of(demo, request_id) is RequestStatus.PENDING

    done = await run(
        "starter.py", "decline", request_id, "--as", OLI, "--reason", "Not now", "--json",
        env=cli_env,
    )  # fmt: skip
    assert done.code == 0, done.err
    assert done.json["status"] == "declined" and done.json["decline_reason"] == "Not now"
    assert status_of(demo, request_id) is RequestStatus.DECLINED

    shown = await run("starter.py", "status", request_id, "--json", env=cli_env)
    assert shown.json["status"] == "declined" and shown.json["status_label"] == "Declined"
    assert shown.json["decline_reason"] == "Not now" and shown.json["decided_by"] == OLI
    again = await run("starter.py", "decline", request_id, "--as", OLI, "--json", env=cli_env)
    assert "declined" in refused(again, "request_not_pending")
