"""R4 as a read (store/quota.py, R24's "the remaining quota and its reset time are
visible"), on SQLite and PostgreSQL: it counts what admission counts, so the quota and a
refusal never disagree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from models.enums import DAILY_REQUEST_LIMIT, RequestMethod
from models.errors import ErrorCode, Refusal
from store.db import read_session
from store.quota import quota_today
from tests.conftest import AGENCY, LEE, SUBAGENCY
from tests.test_store_request_records import (
    BEFORE_SG_MIDNIGHT,
    BULK,
    SG_MIDNIGHT,
    admit,
    refused,
    store,
)

__all__ = ["store"]  # the fixture, used by name below

NOON_SG = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)


def quota(engine: Engine, now: datetime, bc: int = AGENCY) -> tuple[int, int, str, str]:
    with read_session(engine) as session:
        view = quota_today(session, bc, now=now)
    return view.used, view.remaining, view.day, view.resets_at.isoformat()


def test_r24_quota_counts_both_methods_and_reaches_zero_with_the_limit(store: Engine) -> None:
    assert quota(store, NOON_SG) == (0, 20, "2026-03-10", "2026-03-10T16:00:00+00:00")
    for code in BULK[:5]:
        admit(store, code, now=NOON_SG)
    for code in BULK[5:8]:
        admit(store, code, method=RequestMethod.ADD_MY_SHOP, now=NOON_SG)
    assert quota(store, NOON_SG)[:2] == (8, 12)
    with pytest.raises(Refusal):  # a refused attempt uses nothing
        admit(store, BULK[0], now=NOON_SG)
    assert quota(store, NOON_SG)[:2] == (8, 12)
    for code in BULK[8:DAILY_REQUEST_LIMIT]:
        admit(store, code, now=NOON_SG)
    used, remaining, _day, resets_at = quota(store, NOON_SG)
    assert (used, remaining) == (20, 0)
    # The refusal and the quota name the same reset.
    with refused(store, ErrorCode.DAILY_LIMIT_REACHED) as err:
        admit(store, BULK[DAILY_REQUEST_LIMIT], now=NOON_SG)
    assert err[0].details["resets_at"] == resets_at


def test_r24_quota_turns_at_the_bcs_midnight_and_is_per_bc(store: Engine) -> None:
    for code in BULK[:3]:
        admit(store, code, now=BEFORE_SG_MIDNIGHT)
    assert quota(store, BEFORE_SG_MIDNIGHT)[:2] == (3, 17)
    assert quota(store, SG_MIDNIGHT)[:3] == (0, 20, "2026-03-11")
    assert quota(store, SG_MIDNIGHT - timedelta(seconds=1))[:2] == (3, 17)
    admit(store, BULK[3], bc=SUBAGENCY, by=LEE, now=BEFORE_SG_MIDNIGHT)
    assert quota(store, BEFORE_SG_MIDNIGHT, bc=SUBAGENCY)[:2] == (1, 19)


def test_r24_quota_of_an_unknown_bc_is_refused(store: Engine) -> None:
    with read_session(store) as session, pytest.raises(Refusal) as err:
        quota_today(session, 999)
    assert err.value.code == ErrorCode.UNKNOWN_BC
