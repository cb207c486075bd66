"""R23 without Temporal: who may set an end date and which dates are refused (each refusal
with its code, its words, and nothing changed), what the store does at the end date, and
the CLI's error contract for the new options."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlmodel import select

from models.end_date_parsing import parse_end_date
from models.enums import Permission, Relationship
from models.errors import ErrorCode, Refusal
from models.tables import MemberAssignment, ShopGrant, utcnow
from starter import cli
from store import end_dates, invitations, members, sharing
from store.db import read_session, write_session
from tests.conftest import AGENCY, ANA, LEE, OLI, S1_SHOP, SAM, SUBAGENCY, load_demo
from tests.partners_support import grant_in_store, load_extra, refused_without_change, shop_id_of

SOON = timedelta(days=10)


@pytest.fixture()
def held(engine: Engine) -> Engine:
    """AGENCY holds S1 (approved) and shared it with SUBAGENCY; SAM is assigned on it."""
    load_demo(engine)
    load_extra(engine)
    grant_in_store(engine, bc_id=AGENCY, shop_code=S1_SHOP, admin=ANA, seller=OLI)
    with write_session(engine) as session:
        sharing.offer_partner_shop(
            session, invitation_id="inv_1", bc_id=AGENCY, partner_bc_id=SUBAGENCY,
            shop_id=shop_id_of(engine, S1_SHOP), permission=Permission.AD_PROMOTION,
            by=ANA, workflow_id="wf",
        )  # fmt: skip
    with write_session(engine) as session:
        invitations.accept_invitation(session, invitation_id="inv_1", by=LEE)
    with write_session(engine) as session:
        members.assign_member(
            session, bc_id=AGENCY, shop_id=shop_id_of(engine, S1_SHOP), member_email=SAM,
            permission=Permission.AD_PROMOTION, by=ANA,
        )  # fmt: skip
    return engine


def _grant(engine: Engine, bc_id: int) -> ShopGrant:
    with read_session(engine) as session:
        return session.exec(select(ShopGrant).where(ShopGrant.bc_id == bc_id)).one()


def _row(session, grant_id: int | None) -> ShopGrant:  # type: ignore[no-untyped-def]
    grant = session.get(ShopGrant, grant_id)
    assert grant is not None
    return grant


def _set(session, ends_at, by=OLI, bc=AGENCY):  # type: ignore[no-untyped-def]
    return end_dates.set_partner_end(
        session, shop_code=S1_SHOP, partner_bc_id=bc, ends_at=ends_at, by=by
    )


def test_r23_seller_sets_changes_and_clears_and_the_list_shows_it(held: Engine) -> None:
    ends = utcnow() + SOON
    with write_session(held) as session:
        done = _set(session, ends)
    assert done.grant_ids == [_grant(held, AGENCY).id]
    with read_session(held) as session:
        (view,) = sharing.shops_for_bc(session, AGENCY)
    assert view.ends_at == ends
    with write_session(held) as session:
        _set(session, ends + SOON)
    assert _grant(held, AGENCY).ends_at == ends + SOON
    with write_session(held) as session:
        _set(session, None)
    assert _grant(held, AGENCY).ends_at is None


def test_r23_a_date_already_past_is_refused(held: Engine) -> None:
    refused_without_change(
        held, lambda s: _set(s, utcnow() - timedelta(minutes=1)), ErrorCode.END_DATE_PASSED,
        "already passed",
    )  # fmt: skip


def test_r23_only_the_seller_or_owner_bc_sets_a_partner_end_date(held: Engine) -> None:
    refused_without_change(
        held, lambda s: _set(s, utcnow() + SOON, by=ANA), ErrorCode.PERMISSION_DENIED, ANA
    )


def test_r23_an_end_date_for_a_bc_that_is_not_a_partner_is_refused(held: Engine) -> None:
    refused_without_change(
        held, lambda s: _set(s, utcnow() + SOON, bc=7100000000000000005), ErrorCode.NOT_A_PARTNER
    )


def test_r23_a_share_never_ends_later_than_the_sharers_own_access(held: Engine) -> None:
    own = utcnow() + SOON
    with write_session(held) as session:
        _set(session, own)
    share = _grant(held, SUBAGENCY)

    def later(session) -> None:  # type: ignore[no-untyped-def]
        grant = _row(session, share.id)
        end_dates.set_end(session, grant, own + timedelta(days=1), actor=ANA, now=utcnow())

    def no_end(session) -> None:  # type: ignore[no-untyped-def]
        end_dates.set_end(session, _row(session, share.id), None, actor=ANA, now=utcnow())

    shown = end_dates.shown(own)
    refused_without_change(held, later, ErrorCode.END_DATE_TOO_LATE, shown, str(AGENCY))
    refused_without_change(held, no_end, ErrorCode.END_DATE_TOO_LATE, shown)
    with write_session(held) as session:  # the same day or earlier is fine
        end_dates.set_end(session, _row(session, share.id), own, actor=ANA, now=utcnow())
    assert _grant(held, SUBAGENCY).ends_at == own


def test_r23_an_assignment_never_ends_later_than_the_bcs_own_access(held: Engine) -> None:
    own = utcnow() + SOON
    with write_session(held) as session:
        _set(session, own)

    def later(session) -> None:  # type: ignore[no-untyped-def]
        assignment = session.exec(select(MemberAssignment)).one()
        end_dates.set_assignment_end(
            session, assignment, own + timedelta(hours=1), actor=ANA, now=utcnow()
        )

    refused_without_change(held, later, ErrorCode.END_DATE_TOO_LATE, end_dates.shown(own))


def test_r23_at_the_end_date_the_store_asks_for_the_r19_removal(held: Engine) -> None:
    ends = utcnow() + SOON
    with write_session(held) as session:
        _set(session, ends)
    grant = _grant(held, AGENCY)
    assert grant.id is not None
    with write_session(held) as session:  # the date moved meanwhile: follow the store
        moved = end_dates.end_grant(session, grant_id=grant.id, ends_at=ends - timedelta(days=1))
    assert moved.status == "not_due" and moved.ends_at == ends
    with write_session(held) as session:
        due = end_dates.end_grant(session, grant_id=grant.id, ends_at=ends)
    assert due.status == "remove" and due.partner_bc_id == AGENCY and due.by == OLI
    assert _grant(held, AGENCY).revoked_at is None  # the removal itself ends it (R19)


def test_r23_a_share_ending_while_the_bc_holds_the_shop_otherwise_ends_alone(
    held: Engine,
) -> None:
    """SUBAGENCY also holds S1 another way: its share ending takes nothing else."""
    share = _grant(held, SUBAGENCY)
    with write_session(held) as session:
        session.add(
            ShopGrant(
                bc_id=SUBAGENCY, shop_id=shop_id_of(held, S1_SHOP),
                relationship=Relationship.PARTNER, permission=Permission.AD_PROMOTION,
            )
        )  # fmt: skip
    ends = utcnow() + SOON
    with write_session(held) as session:
        end_dates.set_end(session, _row(session, share.id), ends, actor=ANA, now=utcnow())
    with write_session(held) as session:
        out = end_dates.end_grant(session, grant_id=share.id or 0, ends_at=ends)
    assert out.status == "ended"
    rows = {g.id: g for g in _grant_rows(held, SUBAGENCY)}
    assert rows[share.id].revoked_at is not None
    assert [g for g in rows.values() if g.revoked_at is None]  # the direct grant stays
    with write_session(held) as session:  # a second call (a retry) changes nothing
        assert end_dates.end_grant(session, grant_id=share.id or 0, ends_at=ends).status == "gone"


def _grant_rows(engine: Engine, bc_id: int) -> list[ShopGrant]:
    with read_session(engine) as session:
        return list(session.exec(select(ShopGrant).where(ShopGrant.bc_id == bc_id)).all())


def test_r23_an_assignment_ends_alone_on_its_date(held: Engine) -> None:
    ends = utcnow() + SOON
    with write_session(held) as session:
        assignment = session.exec(select(MemberAssignment)).one()
        end_dates.set_assignment_end(session, assignment, ends, actor=ANA, now=utcnow())
        assignment_id = assignment.id or 0
    with write_session(held) as session:
        assert (
            end_dates.end_assignment(session, assignment_id=assignment_id, ends_at=ends).status
            == "ended"
        )
    with read_session(held) as session:
        row = session.get(MemberAssignment, assignment_id)
        assert row is not None and row.ended_at is not None
    assert _grant(held, AGENCY).revoked_at is None


def test_r23_dates_people_type() -> None:
    assert parse_end_date("2027-01-31") == datetime(2027, 2, 1, tzinfo=UTC)
    assert parse_end_date("2027-01-31T18:00+01:00") == datetime(2027, 1, 31, 17, tzinfo=UTC)
    for bad in ["tomorrow", "2027-01-31T18:00", "31/01/2027", ""]:
        with pytest.raises(Refusal) as caught:
            parse_end_date(bad)
        assert caught.value.code == ErrorCode.INVALID_INPUT


ACCESS_UNTIL = ["access-until", "--json", "--shop-code", S1_SHOP, "--partner-bc", str(AGENCY)]


@pytest.mark.parametrize(
    ("extra", "code", "words"),
    [
        ([], "invalid_input", "--until DATE or --clear"),
        (["--until", "2030-01-01", "--clear"], "invalid_input", "--until DATE or --clear"),
        (["--until", "soon"], "invalid_input", "is not a date"),
        (["--until", "2001-01-01"], "end_date_passed", "already passed"),
    ],
)
def test_r23_access_until_refuses_bad_input_as_json_and_changes_nothing(
    held: Engine, extra: list[str], code: str, words: str
) -> None:
    before = _grant(held, AGENCY)
    result = CliRunner().invoke(
        cli,
        [*ACCESS_UNTIL, "--as", OLI, *extra],
        env={
            "DATABASE_URL": held.url.render_as_string(hide_password=False),
            "DEV_MODE": "1",
            "TEMPORAL_ADDRESS": "127.0.0.1:1",
        },
        catch_exceptions=False,
    )
    assert result.exit_code == 1, result.output
    (line,) = result.stdout.strip().splitlines()
    error = json.loads(line)["error"]
    assert error["code"] == code and words in error["message"], error
    assert _grant(held, AGENCY) == before


def test_r23_approve_with_a_past_date_is_refused_before_anything_starts(held: Engine) -> None:
    result = CliRunner().invoke(
        cli,
        ["approve", "req_x", "--json", "--as", OLI, "--until", "2001-01-01"],
        env={
            "DATABASE_URL": held.url.render_as_string(hide_password=False),
            "DEV_MODE": "1",
            "TEMPORAL_ADDRESS": "127.0.0.1:1",
        },
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "end_date_passed"


def _admitted(engine: Engine) -> str:
    """A pending request of AGENCY for S1 (a linked BC: OLI approves with one click)."""
    from models.enums import RequestMethod
    from store.admission import admit_request

    request_id = "req_until_decision"
    with write_session(engine) as session:
        admit_request(
            session, request_id=request_id, method=RequestMethod.REQUEST_ACCESS, bc_id=AGENCY,
            shop_id=shop_id_of(engine, S1_SHOP), requested_by=ANA, workflow_id="wf-until",
        )  # fmt: skip
    return request_id


def test_r23_an_approval_stores_its_end_date_with_the_grant_in_one_step(
    store_engine: Engine,
) -> None:
    """The deciding transaction writes the grant and its date together (no grant without
    its end date can ever be read), audited once, in the approver's name; on both engines,
    the date read back is the date given."""
    from models.enums import RequestStatus
    from models.tables import AccessRequest, AuditEvent
    from store.approval import decide_approval

    engine = store_engine
    load_demo(engine)
    request_id = _admitted(engine)
    ends = (utcnow() + SOON).replace(microsecond=0)
    with write_session(engine) as session:
        record = decide_approval(session, request_id=request_id, by=OLI, until=ends)
    assert record.grant is not None and record.grant.ends_at == ends
    grant = _grant(engine, AGENCY)
    assert (grant.source_request_id, grant.ends_at) == (request_id, ends)
    with read_session(engine) as session:
        request = session.get(AccessRequest, request_id)
        dated = session.exec(
            select(AuditEvent).where(
                AuditEvent.entity == "shop_grant", AuditEvent.action == "end_date_set"
            )
        ).all()
    assert request is not None and request.status is RequestStatus.APPROVED
    assert [(e.entity_id, e.actor) for e in dated] == [(str(grant.id), OLI)]


def test_r23_an_approval_with_a_past_date_decides_nothing(store_engine: Engine) -> None:
    """Refused inside the decision (whatever the caller checked first): the request stays
    pending, no grant, no audit, nothing linked."""
    from store.approval import decide_approval

    engine = store_engine
    load_demo(engine)
    request_id = _admitted(engine)
    past = utcnow() - timedelta(minutes=1)
    refused_without_change(
        engine,
        lambda s: decide_approval(s, request_id=request_id, by=OLI, until=past),
        ErrorCode.END_DATE_PASSED,
        "already passed",
    )
