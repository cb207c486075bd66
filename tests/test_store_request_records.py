"""The store's request rules on SQLite and PostgreSQL (``store_engine``): R1-R6, R8, R9
(cancel), R11-R14, S4.

Every refusal is checked three ways: its stable code, the words a person needs in its
message, and that nothing changed (the rows of every table a request touches are the same
before and after). R4 and R11 are also checked under real concurrency: threads with
separate sessions, as activity threads run them in the worker.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import select

from models.enums import (
    DAILY_REQUEST_LIMIT,
    Permission,
    Relationship,
    RequestMethod,
    RequestStatus,
    Scenario,
    SendChannel,
)
from models.errors import ErrorCode, Refusal
from models.names import request_workflow_id
from models.tables import AccessRequest, BusinessCenter, RequestSend, Shop, ShopGrant
from store import admission, approval, grants, people
from store import request_records as rules
from store.db import make_engine, read_session, write_session
from tests.conftest import (
    AGENCY,
    ANA,
    KIM,
    LEE,
    NIA,
    OLI,
    PG_ADMIN_URL,
    RAJ,
    RAJ_BC,
    S1_SHOP,
    S2_SHOP,
    S3_SHOP,
    S4_SHOP,
    SAM,
    SUBAGENCY,
    load_data,
    load_demo,
)

# Tables a request can change. "Nothing changed" compares every row of each.
WATCHED = (
    "access_request",
    "request_send",
    "shop_grant",
    "audit_event",
    "business_center",
    "bc_member",
    "shop",
)
FOREIGN_AGENCY = 7100000000000000090  # an agency BC registered in FR: not eligible (R2)
FOREIGN_REGULAR = 7100000000000000091  # a regular BC registered in FR: eligible (R2)
JP_SHOP = "JPSHOP0001"  # located in JP: not supported (R3)
BULK = [f"BULKSHOP{i:02d}" for i in range(30)]  # for R4's daily limit

# 2026-03-10 23:59 in Singapore (Agency One's timezone, UTC+8) is 15:59 UTC.
BEFORE_SG_MIDNIGHT = datetime(2026, 3, 10, 15, 59, tzinfo=UTC)
SG_MIDNIGHT = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)

FAY = "fay@foreign.example"
EXTRA = {
    "users": [{"email": FAY, "name": "Fay"}],
    "business_centers": [
        {"id": FOREIGN_AGENCY, "name": "Agence FR", "type": "agency", "country": "FR",
         "timezone": "Europe/Paris", "members": [{"email": FAY, "role": "admin"}]},
        {"id": FOREIGN_REGULAR, "name": "Regular FR", "type": "regular", "country": "FR",
         "timezone": "Europe/Paris", "members": [{"email": FAY, "role": "admin"}]},
    ],
    "shops": [
        {"code": JP_SHOP, "name": "Tokyo Store", "location": "JP", "linked_bc": None,
         "team": [{"email": OLI, "role": "owner"}]},
        *[
            {"code": code, "name": f"Bulk {code}", "location": "cross_border", "linked_bc": None,
             "team": [{"email": OLI, "role": "owner"}]}
            for code in BULK
        ],
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def _pg_module_db(postgres_admin: Engine, postgres_template: str) -> Iterator[Engine]:
    """One PostgreSQL database for this module: creating one per test costs about a second
    on this machine, emptying one costs milliseconds."""
    name = f"shop_access_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"'))
    engine = make_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        with postgres_admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture()
def postgres_engine(_pg_module_db: Engine) -> Iterator[Engine]:
    """Overrides conftest's: the module's database, emptied before each test."""
    with _pg_module_db.begin() as conn:
        tables = (
            conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
            .scalars()
            .all()
        )
        # DELETE, not TRUNCATE (which rewrites files and is slower for a few rows); foreign
        # keys are not checked while the tables empty in any order.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        for table in tables:
            conn.execute(text(f'DELETE FROM "{table}"'))
    yield _pg_module_db
    _pg_module_db.dispose()  # no connection of this test survives into the next TRUNCATE


@pytest.fixture()
def store(store_engine: Engine) -> Engine:
    load_demo(store_engine)
    load_data(store_engine, EXTRA)
    return store_engine


# --- helpers -----------------------------------------------------------------------------


def shop_id(engine: Engine, code: str) -> int:
    with read_session(engine) as session:
        shop = session.exec(select(Shop).where(Shop.code == code)).one()
        assert shop.id is not None
        return shop.id


def admit(
    engine: Engine,
    code: str,
    *,
    method: RequestMethod = RequestMethod.REQUEST_ACCESS,
    bc: int = AGENCY,
    by: str = ANA,
    now: datetime | None = None,
    request_id: str | None = None,
) -> AccessRequest:
    sid = shop_id(engine, code)
    with write_session(engine) as session:
        admitted = admission.admit_request(
            session,
            request_id=request_id or "req_" + uuid.uuid4().hex[:20],
            method=method,
            bc_id=bc,
            shop_id=sid,
            requested_by=by,
            workflow_id=request_workflow_id(method, bc, code),
            now=now,
        )
        return admitted.request


def approve(engine: Engine, request_id: str, by: str, **kw: Any) -> approval.DecisionRecord:
    with write_session(engine) as session:
        return approval.decide_approval(session, request_id=request_id, by=by, **kw)


def resend(
    engine: Engine, request_id: str, seq: int, *, by: str = ANA, copy: bool = False,
    now: datetime | None = None,
) -> RequestSend:  # fmt: skip
    with write_session(engine) as session:
        return rules.record_resend(
            session, request_id=request_id, seq=seq, by=by, copy_link=copy, now=now
        )


def cancel(engine: Engine, request_id: str, by: str = ANA) -> AccessRequest:
    with write_session(engine) as session:
        return rules.cancel_request(session, request_id=request_id, by=by)


def grant(engine: Engine, request_id: str) -> ShopGrant | None:
    """The grant the request gave (R14), if any."""
    with read_session(engine) as session:
        return grants.grant_of_request(session, request_id=request_id)


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every watched table, in a stable order."""
    with engine.connect() as conn:
        return {
            table: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2"))]
            for table in WATCHED
        }


def status_of(engine: Engine, request_id: str) -> AccessRequest:
    with read_session(engine) as session:
        request = session.get(AccessRequest, request_id)
        assert request is not None
        return request


@contextmanager
def refused(engine: Engine, code: ErrorCode, *words: str) -> Iterator[list[Refusal]]:
    """Expect a refusal with ``code`` whose message has ``words``, and no change at all."""
    before = snapshot(engine)
    caught: list[Refusal] = []
    with pytest.raises(Refusal) as info:
        yield caught
    caught.append(info.value)
    assert info.value.code == code, info.value.message
    for word in words:
        assert word in info.value.message, (word, info.value.message)
    assert snapshot(engine) == before, "a refusal changed the store"


# --- R1-R6: admission ------------------------------------------------------------------------


def test_r1_standard_member_is_told_to_ask_for_co_admin(store: Engine) -> None:
    with refused(store, ErrorCode.NOT_BC_ADMIN, SAM, "standard member", "co-admin"):
        admit(store, S1_SHOP, by=SAM)


def test_r1_non_member_and_unknown_user_are_refused(store: Engine) -> None:
    with refused(store, ErrorCode.NOT_BC_ADMIN, LEE, "not a member", str(AGENCY)):
        admit(store, S1_SHOP, by=LEE)
    with refused(store, ErrorCode.NOT_BC_ADMIN, "not a member"):
        admit(store, S1_SHOP, by="nobody@example.com")


def test_r2_agency_registered_outside_the_list_is_refused(store: Engine) -> None:
    with refused(store, ErrorCode.BC_NOT_ELIGIBLE, "agency", "FR", "SG", "regular"):
        admit(store, S1_SHOP, bc=FOREIGN_AGENCY, by="fay@foreign.example")


def test_r2_regular_bc_is_eligible_anywhere(store: Engine) -> None:
    request = admit(store, S1_SHOP, bc=FOREIGN_REGULAR, by="fay@foreign.example")
    assert request.status is RequestStatus.PENDING


def test_r3_shop_in_unsupported_location_is_refused(store: Engine) -> None:
    with refused(store, ErrorCode.SHOP_LOCATION_NOT_SUPPORTED, "JP", "cross-border", "GB"):
        admit(store, JP_SHOP)


def test_r5_malformed_and_unknown_codes_get_the_same_answer(store: Engine) -> None:
    with refused(store, ErrorCode.UNKNOWN_SHOP_CODE, "Seller information") as malformed:
        people.parse_shop_code("not a code!")
    with refused(store, ErrorCode.UNKNOWN_SHOP_CODE) as unknown, write_session(store) as session:
        admission.admit_request(
            session, request_id="req_unknownshop", method=RequestMethod.REQUEST_ACCESS,
            bc_id=AGENCY, shop_id=999_999, requested_by=ANA, workflow_id="wf",
        )  # fmt: skip
    # Nothing in the answer tells an unknown shop from a malformed code (R5).
    assert malformed[0].message == unknown[0].message
    assert malformed[0].details == unknown[0].details == {}
    # The one look-up by code that every entry point uses gives that same answer.
    for code in ("not a code!", "NOSUCHSHOP"):
        with refused(store, ErrorCode.UNKNOWN_SHOP_CODE) as looked_up, read_session(store) as s:
            people.require_shop_by_code(s, code)
        assert looked_up[0].message == malformed[0].message
    with read_session(store) as session:
        assert people.require_shop_by_code(session, " gblinked01").code == S1_SHOP
    assert people.parse_shop_code("  gblinked01 ") == S1_SHOP


def test_r6_second_request_while_pending_points_to_resend(store: Engine) -> None:
    first = admit(store, S1_SHOP)
    with refused(store, ErrorCode.REQUEST_ALREADY_PENDING, S1_SHOP, first.id, "resend") as err:
        admit(store, S1_SHOP)
    assert err[0].details["request_id"] == first.id
    # The other method is a separate request, allowed at the same time (R11).
    other = admit(store, S1_SHOP, method=RequestMethod.ADD_MY_SHOP)
    assert other.status is RequestStatus.PENDING


def test_r6_bc_that_already_holds_the_shop_is_told_so(store: Engine) -> None:
    first = admit(store, S1_SHOP)
    approve(store, first.id, OLI)
    assert grant(store, first.id) is not None  # R14: approving granted it
    with refused(store, ErrorCode.ALREADY_HAS_ACCESS, str(AGENCY), S1_SHOP, "partner"):
        admit(store, S1_SHOP)
    # A partner may still ask to become the owner BC ("Add my TikTok Shop").
    assert admit(store, S1_SHOP, method=RequestMethod.ADD_MY_SHOP).status is RequestStatus.PENDING


def test_r6_owner_bc_cannot_ask_again_by_either_method(store: Engine) -> None:
    first = admit(store, S1_SHOP, method=RequestMethod.ADD_MY_SHOP)
    approve(store, first.id, OLI)
    assert grant(store, first.id) is not None  # R14: approving granted it
    for method in RequestMethod:
        with refused(store, ErrorCode.ALREADY_HAS_ACCESS, "owner"):
            admit(store, S1_SHOP, method=method)


# --- R4: the daily limit ---------------------------------------------------------------------


def test_r4_twenty_first_request_is_refused_and_told_when_the_limit_resets(store: Engine) -> None:
    now = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # 12:00 in Singapore
    for code in BULK[:DAILY_REQUEST_LIMIT]:
        admit(store, code, now=now)
    with refused(
        store, ErrorCode.DAILY_LIMIT_REACHED, "20", "Asia/Singapore", "2026-03-10T16:00:00+00:00"
    ) as err:
        admit(store, BULK[DAILY_REQUEST_LIMIT], now=now)
    assert err[0].details["resets_at"] == "2026-03-10T16:00:00+00:00"


def test_r4_counts_both_methods(store: Engine) -> None:
    now = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
    for code in BULK[:10]:
        admit(store, code, now=now)
    for code in BULK[10:20]:
        admit(store, code, method=RequestMethod.ADD_MY_SHOP, now=now)
    # 20 admitted, 10 of each method: the limit is reached whichever method asks.
    for method in RequestMethod:
        with refused(store, ErrorCode.DAILY_LIMIT_REACHED):
            admit(store, BULK[25], method=method, now=now)


def test_r4_refused_attempts_and_resends_do_not_use_the_allowance(store: Engine) -> None:
    now = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
    first = admit(store, BULK[0], now=now)
    for _ in range(5):  # refused attempts: a standard member, a duplicate, a bad location
        with pytest.raises(Refusal):
            admit(store, BULK[1], by=SAM, now=now)
        with pytest.raises(Refusal):
            admit(store, BULK[0], now=now)
        with pytest.raises(Refusal):
            admit(store, JP_SHOP, now=now)
    resend(store, first.id, 2, now=now)
    resend(store, first.id, 3, copy=True, now=now)
    for code in BULK[1:DAILY_REQUEST_LIMIT]:  # 19 more: all admitted
        admit(store, code, now=now)
    with refused(store, ErrorCode.DAILY_LIMIT_REACHED):
        admit(store, BULK[DAILY_REQUEST_LIMIT], now=now)


def test_r4_limit_resets_at_midnight_in_the_bcs_timezone(store: Engine) -> None:
    for code in BULK[:DAILY_REQUEST_LIMIT]:
        admit(store, code, now=BEFORE_SG_MIDNIGHT)
    with refused(store, ErrorCode.DAILY_LIMIT_REACHED):
        admit(store, BULK[20], now=BEFORE_SG_MIDNIGHT + timedelta(seconds=59))
    # Still 10 March in UTC, but 11 March in Singapore: a new day for this BC.
    request = admit(store, BULK[20], now=SG_MIDNIGHT)
    assert request.bc_local_day == "2026-03-11"
    # Other BCs have their own allowance (Sub-agency, same instant).
    other = admit(store, BULK[21], bc=SUBAGENCY, by=LEE, now=BEFORE_SG_MIDNIGHT)
    assert other.status is RequestStatus.PENDING


def _race_admissions(store: Engine, codes: list[str], now: datetime) -> list[Any]:
    """Admit one request per code, all at once, each in its own thread and session."""
    barrier = threading.Barrier(len(codes))
    ids = {code: shop_id(store, code) for code in codes}

    def one(code: str) -> Any:
        barrier.wait()
        try:
            with write_session(store) as session:
                admission.admit_request(
                    session, request_id="req_" + uuid.uuid4().hex[:20],
                    method=RequestMethod.REQUEST_ACCESS, bc_id=AGENCY, shop_id=ids[code],
                    requested_by=ANA, workflow_id=f"wf-{code}", now=now,
                )  # fmt: skip
            return "admitted"
        except Refusal as refusal:
            return refusal

    with ThreadPoolExecutor(max_workers=len(codes)) as pool:
        return list(pool.map(one, codes))


def test_r4_twenty_five_simultaneous_requests_admit_exactly_twenty(store: Engine) -> None:
    now = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
    outcomes = _race_admissions(store, BULK[:25], now)
    refusals = [o for o in outcomes if isinstance(o, Refusal)]
    assert outcomes.count("admitted") == DAILY_REQUEST_LIMIT
    assert len(refusals) == 5
    for refusal in refusals:
        assert refusal.code == ErrorCode.DAILY_LIMIT_REACHED
        assert "resets at midnight Asia/Singapore" in refusal.message
        assert refusal.details["resets_at"] == "2026-03-10T16:00:00+00:00"
    with read_session(store) as session:
        rows = session.exec(select(AccessRequest).where(AccessRequest.bc_id == AGENCY)).all()
        sends = session.exec(select(RequestSend)).all()
    assert len(rows) == DAILY_REQUEST_LIMIT
    assert len(sends) == DAILY_REQUEST_LIMIT  # each admitted request has its first send only


# --- R8: resend ------------------------------------------------------------------------------


def test_r8_first_resend_is_never_refused_and_second_within_a_minute_is(store: Engine) -> None:
    t0 = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
    request = admit(store, S1_SHOP, now=t0)
    # Right after the first e-mail: the first resend is allowed.
    assert resend(store, request.id, 2, now=t0 + timedelta(seconds=1)).channel is (
        SendChannel.RESEND_EMAIL
    )
    with refused(
        store, ErrorCode.RESEND_TOO_SOON, "less than a minute", "try again in 31 seconds", "copy"
    ) as err:
        resend(store, request.id, 3, now=t0 + timedelta(seconds=30))
    assert err[0].details["retry_after_seconds"] == 31
    # The copy link is always available, even then.
    copied = resend(store, request.id, 3, copy=True, now=t0 + timedelta(seconds=30))
    assert copied.channel is SendChannel.COPY_LINK
    again = resend(store, request.id, 4, now=t0 + timedelta(seconds=61))
    assert again.channel is SendChannel.RESEND_EMAIL


def test_r8_resend_by_non_admin_is_refused(store: Engine) -> None:
    request = admit(store, S1_SHOP)
    with refused(store, ErrorCode.NOT_BC_ADMIN, "co-admin"):
        resend(store, request.id, 2, by=SAM)
    with refused(store, ErrorCode.NOT_BC_ADMIN, "not a member"):
        resend(store, request.id, 2, by=OLI, copy=True)


def test_r8_resend_of_a_decided_request_is_refused(store: Engine) -> None:
    request = admit(store, S1_SHOP)
    approve(store, request.id, OLI)
    with refused(store, ErrorCode.REQUEST_NOT_PENDING, request.id, "approved", "only a pending"):
        resend(store, request.id, 2, copy=True)


# --- R9 policy: cancel ---------------------------------------------------------------------


def test_r9_admin_cancels_a_pending_request_once(store: Engine) -> None:
    request = admit(store, S1_SHOP)
    with refused(store, ErrorCode.NOT_BC_ADMIN, "co-admin"):
        cancel(store, request.id, by=SAM)
    assert cancel(store, request.id).status is RequestStatus.CANCELLED
    before = snapshot(store)
    assert cancel(store, request.id).status is RequestStatus.CANCELLED  # a retried activity
    assert snapshot(store) == before
    with refused(store, ErrorCode.REQUEST_NOT_PENDING, "cancelled"):
        resend(store, request.id, 2)
    # Once withdrawn, the BC may ask again (R6 counts pending requests only).
    assert admit(store, S1_SHOP).status is RequestStatus.PENDING


def test_r9_cancel_of_an_approved_request_is_refused(store: Engine) -> None:
    request = admit(store, S1_SHOP)
    approve(store, request.id, OLI)
    with refused(store, ErrorCode.REQUEST_NOT_PENDING, "approved"):
        cancel(store, request.id)


def test_unknown_request_is_refused(store: Engine) -> None:
    with refused(store, ErrorCode.UNKNOWN_REQUEST, "req_missing"):
        cancel(store, "req_missing")


# --- R12-R14: the seller's decision -----------------------------------------------------------


def test_r13_only_the_shop_team_approves(store: Engine) -> None:
    request = admit(store, S1_SHOP)
    for outsider in (RAJ, ANA, "stranger@example.com"):
        with refused(store, ErrorCode.NOT_SHOP_TEAM, outsider, S1_SHOP, "owner"):
            approve(store, request.id, outsider)
    assert status_of(store, request.id).status is RequestStatus.PENDING


def test_r12_s4_standard_member_is_told_to_ask_their_bc_admin(store: Engine) -> None:
    request = admit(store, S4_SHOP)
    with refused(store, ErrorCode.BC_ADMIN_REQUIRED, "admin access", "Kim's Company BC",
                 "bo@brand-member.com") as err:  # fmt: skip
        approve(store, request.id, KIM)
    assert err[0].details["bc_admins"] == ["bo@brand-member.com"]


def test_r12_s3_approving_with_a_bc_the_seller_does_not_administer_is_refused(
    store: Engine,
) -> None:
    request = admit(store, S3_SHOP)
    with refused(store, ErrorCode.INVALID_INPUT, "Pick one", str(RAJ_BC)):
        approve(store, request.id, RAJ)
    with refused(store, ErrorCode.BC_ADMIN_REQUIRED, f"not an admin of Business Center {AGENCY}"):
        approve(store, request.id, RAJ, bc_id=AGENCY)
    with refused(store, ErrorCode.INVALID_INPUT, "pick one of yours"):
        approve(store, request.id, RAJ, new_bc_name="Another BC", timezone="UTC")
    record = approve(store, request.id, RAJ, bc_id=RAJ_BC)
    assert record.scenario is Scenario.S3
    with read_session(store) as session:
        assert session.exec(select(Shop).where(Shop.code == S3_SHOP)).one().linked_bc_id == RAJ_BC


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({}, ("Enter a name",)),
        ({"new_bc_name": "  "}, ("Enter a name",)),
        ({"new_bc_name": "N" * 201, "timezone": "UTC"}, ("at most 200 characters",)),
        # A CR/LF would become a header in every later e-mail about this BC.
        (
            {"new_bc_name": "Nia\r\nBcc: evil@attacker.example", "timezone": "UTC"},
            ("new Business Center's name", "control characters", "U+000D"),
        ),
        ({"new_bc_name": "Nia\u202eCB", "timezone": "UTC"}, ("control characters", "U+202E")),
        ({"new_bc_name": "Nia's BC"}, ("Pick a timezone",)),
        ({"new_bc_name": "Nia's BC", "timezone": "Mars/Olympus"}, ("Mars/Olympus", "IANA")),
    ],
)
def test_r12_s2_invalid_new_bc_is_refused(
    store: Engine, kw: dict[str, str], words: tuple[str, ...]
) -> None:
    request = admit(store, S2_SHOP)
    with refused(store, ErrorCode.INVALID_INPUT, *words):
        approve(store, request.id, NIA, **kw)


def test_r12_s2_creates_the_sellers_bc_and_links_it(store: Engine) -> None:
    request = admit(store, S2_SHOP)
    record = approve(store, request.id, NIA, new_bc_name="Nia's BC", timezone="Asia/Singapore")
    assert record.scenario is Scenario.S2
    with read_session(store) as session:
        shop = session.exec(select(Shop).where(Shop.code == S2_SHOP)).one()
        bc = session.get(BusinessCenter, shop.linked_bc_id)
    assert bc is not None and bc.name == "Nia's BC" and bc.timezone == "Asia/Singapore"
    assert status_of(store, request.id).approving_bc_id == bc.id


def test_r12_s1_choosing_another_bc_is_refused(store: Engine) -> None:
    request = admit(store, S1_SHOP)
    with refused(store, ErrorCode.INVALID_INPUT, "already linked", "without choosing"):
        approve(store, request.id, OLI, bc_id=RAJ_BC)


def test_r13_deciding_an_already_decided_request_changes_nothing(store: Engine) -> None:
    request = admit(store, S1_SHOP)
    approve(store, request.id, OLI)
    before = snapshot(store)
    again = approve(store, request.id, OLI)
    assert again.already_decided and again.request.status is RequestStatus.APPROVED
    assert snapshot(store) == before


@pytest.mark.parametrize(
    ("method", "relationship", "permission"),
    [
        (RequestMethod.REQUEST_ACCESS, Relationship.PARTNER, Permission.AD_PROMOTION),
        (RequestMethod.ADD_MY_SHOP, Relationship.OWNER, Permission.MANAGER),
    ],
)
def test_r14_grant_follows_the_method_once_however_often_approved(
    store: Engine, method: RequestMethod, relationship: Relationship, permission: Permission
) -> None:
    request = admit(store, S1_SHOP, method=method)
    assert grant(store, request.id) is None  # not approved yet: no grant
    decided = approve(store, request.id, OLI)
    again = approve(store, request.id, OLI)  # a retried activity decides nothing new
    first = grant(store, request.id)
    assert again.already_decided and first is not None and decided.grant is not None
    assert first.id == decided.grant.id == (again.grant.id if again.grant else None)
    assert (first.relationship, first.permission) == (relationship, permission)
    with read_session(store) as session:
        grants = session.exec(select(ShopGrant).where(ShopGrant.bc_id == AGENCY)).all()
    assert len(grants) == 1


# --- R11: the race ---------------------------------------------------------------------------


def test_r11_approving_one_method_expires_the_other_at_once(store: Engine) -> None:
    ra = admit(store, S1_SHOP)
    ams = admit(store, S1_SHOP, method=RequestMethod.ADD_MY_SHOP)
    record = approve(store, ams.id, OLI)
    assert record.expired is not None and record.expired.id == ra.id
    loser = status_of(store, ra.id)
    assert loser.status is RequestStatus.EXPIRED and loser.superseded_by == ams.id
    with refused(store, ErrorCode.REQUEST_NOT_PENDING, "expired", f"{ams.id} was approved first"):
        resend(store, ra.id, 2, copy=True)


def test_r11_requests_from_different_bcs_never_affect_each_other(store: Engine) -> None:
    ours = admit(store, S1_SHOP)
    theirs = admit(store, S1_SHOP, bc=SUBAGENCY, by=LEE)
    theirs_other = admit(store, S1_SHOP, bc=SUBAGENCY, by=LEE, method=RequestMethod.ADD_MY_SHOP)
    record = approve(store, ours.id, OLI)
    assert record.expired is None
    assert status_of(store, theirs.id).status is RequestStatus.PENDING
    assert status_of(store, theirs_other.id).status is RequestStatus.PENDING


def _race(store: Engine, calls: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        try:
            return call()
        except Refusal as refusal:
            return refusal

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.mark.parametrize("attempt", range(3))
def test_r11_two_concurrent_approvals_exactly_one_wins(store: Engine, attempt: int) -> None:
    ra = admit(store, S1_SHOP)
    ams = admit(store, S1_SHOP, method=RequestMethod.ADD_MY_SHOP)
    outcomes = _race(
        store, [lambda: approve(store, ra.id, OLI), lambda: approve(store, ams.id, OLI)]
    )
    won = [o for o in outcomes if not o.already_decided]
    lost = [o for o in outcomes if o.already_decided]
    assert len(won) == 1 and len(lost) == 1, outcomes
    winner = won[0].request.id
    loser = ams.id if winner == ra.id else ra.id
    assert lost[0].request.id == loser
    assert status_of(store, winner).status is RequestStatus.APPROVED
    expired = status_of(store, loser)
    assert expired.status is RequestStatus.EXPIRED and expired.superseded_by == winner
    with read_session(store) as session:
        approved = session.exec(
            select(AccessRequest).where(AccessRequest.status == RequestStatus.APPROVED)
        ).all()
    assert [r.id for r in approved] == [winner]


# --- idempotency (activities run at least once) ----------------------------------------------


def test_admit_twice_with_the_same_id_admits_once(store: Engine) -> None:
    first = admit(store, S1_SHOP, request_id="req_sameid")
    before = snapshot(store)
    second = admit(store, S1_SHOP, request_id="req_sameid")
    assert second.id == first.id
    assert snapshot(store) == before


def test_record_resend_twice_with_the_same_seq_records_once(store: Engine) -> None:
    request = admit(store, S1_SHOP)
    first = resend(store, request.id, 2)
    before = snapshot(store)
    # A retry moments later would be "too soon" if it were a new resend: it is not.
    second = resend(store, request.id, 2)
    assert second.id == first.id
    assert snapshot(store) == before
