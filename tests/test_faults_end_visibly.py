"""Issue 8, item 2: nothing retries for ever.

Each class of activity failure (activities/refusals.py): refusals keep their code; faults
that heal (database locked or away) are re-raised for Temporal to retry; bad data and
broken invariants become non-retryable ``invalid_data`` / ``broken_invariant``; constraint
violations are retried a few times, then are broken invariants.

End to end: a request whose admission meets bad stored data (a BC's timezone edited by hand
into one that does not exist) ends at once with ``RequestStatus = 'failed'``, the reason
in its result, its history and the caller's error, and no row in the store.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy.exc import DataError, IntegrityError, NoResultFound, OperationalError
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError

from activities import refusals
from activities.refusals import INTEGRITY_ATTEMPTS, fault_of, refusals_as_errors
from models.enums import RequestMethod
from models.errors import ErrorCode, Refusal
from models.messages import RequestResult
from models.names import request_workflow_id
from models.tables import AccessRequest
from service.requests import RequestService
from store.db import read_session, write_session
from store.people import find_shop_by_code
from tests.conftest import AGENCY, ANA, S1_SHOP

# --- the classifier, one test per class ------------------------------------------------------


def _raising(err: BaseException) -> Any:
    @refusals_as_errors
    def activity_body() -> None:
        raise err

    return activity_body


def test_a_refusal_keeps_its_code_and_details() -> None:
    with pytest.raises(ApplicationError) as info:
        _raising(Refusal(ErrorCode.NOT_BC_ADMIN, "Ask an admin.", bc=1))()
    assert info.value.type == ErrorCode.NOT_BC_ADMIN and info.value.non_retryable
    assert info.value.message == "Ask an admin." and info.value.details == ({"bc": 1},)


@pytest.mark.parametrize(
    "err",
    [
        OperationalError("UPDATE x", {}, Exception("database is locked")),
        ConnectionResetError("connection reset by peer"),
        TimeoutError("timed out"),
        RuntimeError("something we have not met yet"),
    ],
    ids=["db-locked", "connection-reset", "timeout", "unknown"],
)
def test_faults_that_may_heal_are_left_to_temporal_to_retry(err: BaseException) -> None:
    with pytest.raises(type(err)):
        _raising(err)()


class _Row(BaseModel):
    id: int


def _validation_error() -> Exception:
    try:
        _Row.model_validate({"id": "not a number"})
    except ValueError as err:
        return err
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("err", "code"),
    [
        (OverflowError("Python int too large to convert to SQLite INTEGER"), "invalid_data"),
        (ValueError("bad stored value"), "invalid_data"),
        (_validation_error(), "invalid_data"),
        (DataError("INSERT", {}, Exception("value out of range")), "invalid_data"),
        (AssertionError("shop.id is None"), "broken_invariant"),
        (KeyError("missing"), "broken_invariant"),
        (NoResultFound("no row"), "broken_invariant"),
    ],
    ids=["overflow", "value", "pydantic", "db-data", "assert", "lookup", "no-row"],
)
def test_bad_data_and_broken_invariants_never_retry(err: BaseException, code: str) -> None:
    with pytest.raises(ApplicationError) as info:
        _raising(err)()
    assert info.value.type == code and info.value.non_retryable
    assert info.value.message.startswith(type(err).__name__)


def test_a_stored_timezone_that_does_not_exist_is_invalid_data() -> None:
    from zoneinfo import ZoneInfo

    with pytest.raises(ApplicationError) as info:
        refusals_as_errors(lambda: ZoneInfo("Mars/Olympus"))()
    assert info.value.type == ErrorCode.INVALID_DATA and "Mars/Olympus" in info.value.message


def test_a_constraint_violation_is_retried_then_is_a_broken_invariant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err = IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed: shop_grant.key"))
    for attempt in range(1, INTEGRITY_ATTEMPTS):
        assert fault_of(err, attempt) is None  # a concurrent writer: the retry steps over
    monkeypatch.setattr(refusals, "_attempt", lambda: INTEGRITY_ATTEMPTS)
    with pytest.raises(ApplicationError) as info:
        _raising(err)()
    assert info.value.type == ErrorCode.BROKEN_INVARIANT and info.value.non_retryable


# --- end to end: bad stored data at admission ---------------------------------------------


async def test_admission_on_bad_stored_data_ends_failed_not_retrying(
    service: RequestService, demo: Engine, client: Client
) -> None:
    with write_session(demo) as session:  # a row made inconsistent by hand
        session.execute(
            text("UPDATE business_center SET timezone = 'Mars/Olympus' WHERE id = :id"),
            {"id": AGENCY},
        )
        shop = find_shop_by_code(session, S1_SHOP)
        assert shop is not None and shop.id is not None
        shop_id = shop.id
    started = time.monotonic()
    with pytest.raises(Refusal) as info:
        await service.submit(
            method=RequestMethod.REQUEST_ACCESS, bc_id=AGENCY, shop_code=S1_SHOP, by=ANA
        )
    # Answered at once (the first attempt is the last), not after the caller's timeout.
    assert time.monotonic() - started < service.timeout
    assert info.value.code == ErrorCode.INVALID_DATA
    assert "Mars/Olympus" in info.value.message

    workflow_id = request_workflow_id(RequestMethod.REQUEST_ACCESS, AGENCY, shop_id)
    handle = client.get_workflow_handle(workflow_id, result_type=RequestResult)
    async with asyncio.timeout(20):
        result = await handle.result()
    assert result.status == "failed" and result.refusal_code == ErrorCode.INVALID_DATA
    assert result.refusal_message and "Mars/Olympus" in result.refusal_message
    history = await handle.fetch_history()
    assert "Mars/Olympus" in history.to_json()  # the reason, for whoever opens it
    with read_session(demo) as session:
        assert session.get(AccessRequest, result.request_id) is None

    # Ops find it in the Temporal UI by status (visibility is eventually consistent).
    query = f"BusinessCenterId = '{AGENCY}' AND RequestStatus = 'failed'"
    deadline = time.monotonic() + 15
    while True:
        found = [w async for w in client.list_workflows(query) if w.id == workflow_id]
        if found and found[0].status is WorkflowExecutionStatus.COMPLETED:
            break
        assert time.monotonic() < deadline, f"{workflow_id} not listed by {query!r}"
        await asyncio.sleep(0.2)
