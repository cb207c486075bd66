"""An Idempotency-Key's claim is a lease (docs/api.md, store/idempotency.py), on SQLite and
PostgreSQL: held, it answers "in flight"; passed (the link handler died) or given back (the
call faulted), a retry takes it over with the same seed, so it names the same request; an
answer, once kept, is what every repeat gets."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from models.tables import ApiIdempotency
from store import api_tokens, idempotency
from store.api_tokens import Scope
from store.db import read_session, write_session

LONG, PASSED = timedelta(minutes=5), timedelta(0)


@pytest.fixture()
def token(store_engine: Engine) -> str:
    with write_session(store_engine) as session:
        made, _ = api_tokens.create_token(session, name="crm", scopes={Scope.ACT})
    return made.id


def claim(engine: Engine, token: str, lease: timedelta = LONG, fp: str = "a") -> idempotency.Claim:
    return idempotency.claim(engine, token, "k1", fp, lease)


def test_a_held_claim_is_in_flight_and_a_passed_one_is_taken_over(
    store_engine: Engine, token: str
) -> None:
    first = claim(store_engine, token, lease=PASSED)  # a call whose handler then dies
    assert isinstance(first, idempotency.Claimed)
    retry = claim(store_engine, token)
    assert retry == first  # taken over: the same seed, so the same request id
    assert isinstance(claim(store_engine, token), idempotency.Running)  # its lease holds
    assert isinstance(claim(store_engine, token, fp="b"), idempotency.Mismatch)


def test_a_faulted_call_frees_its_key_at_once_with_the_same_seed(
    store_engine: Engine, token: str
) -> None:
    first = claim(store_engine, token)
    idempotency.release(store_engine, token, "k1")
    assert claim(store_engine, token) == first


def test_an_answer_is_kept_once_and_never_taken_over(store_engine: Engine, token: str) -> None:
    claim(store_engine, token, lease=PASSED)
    idempotency.remember(store_engine, token, "k1", 201, '{"request_id": "req_1"}', "/r/1")
    idempotency.remember(store_engine, token, "k1", 201, '{"request_id": "req_2"}', "/r/2")
    idempotency.release(store_engine, token, "k1")  # a late attempt's fault changes nothing
    again = claim(store_engine, token)
    assert again == idempotency.Answered(201, '{"request_id": "req_1"}', "/r/1")


def test_a_key_older_than_a_day_is_a_new_call(store_engine: Engine, token: str) -> None:
    first = claim(store_engine, token)
    with write_session(store_engine) as session:
        row = session.get(ApiIdempotency, (token, "k1"))
        assert row is not None
        row.created_at -= idempotency.KEPT_FOR  # the first call was a day ago
        session.add(row)
    fresh = claim(store_engine, token)
    assert isinstance(fresh, idempotency.Claimed) and fresh != first


def test_two_retries_racing_for_a_passed_lease_get_one_claim(
    store_engine: Engine, token: str
) -> None:
    claim(store_engine, token, lease=PASSED)
    answers: list[idempotency.Claim] = []
    errors: list[BaseException] = []

    def retry() -> None:
        try:
            answers.append(claim(store_engine, token))
        except BaseException as err:  # reported below: a thread's failure fails the test
            errors.append(err)

    threads = [threading.Thread(target=retry) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(type(a).__name__ for a in answers) == ["Claimed", *["Running"] * 3]
    with read_session(store_engine) as session:
        row = session.get(ApiIdempotency, (token, "k1"))
    assert row is not None and row.lease_until is not None
