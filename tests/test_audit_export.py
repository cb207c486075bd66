"""The tamper-evident audit export (R27 over R21's records), on SQLite and PostgreSQL.

The chain is written with every audit row (store/audit.py), so: an export verifies, an
export made later repeats and continues the earlier one, and a file whose lines were
altered, dropped or swapped fails, naming the first bad line. Also: concurrent writers
extend one chain, and the migration chains rows written before it.
"""

from __future__ import annotations

import json
import threading
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import select

from client.audit import export_text, verify_export
from models.enums import RequestMethod
from models.errors import ErrorCode, Refusal
from models.names import request_workflow_id
from models.tables import Shop
from store import audit
from store.admission import admit_request
from store.approval import decide_approval
from store.audit_export import Scope, export, verify_lines
from store.db import read_session, write_session
from tests.conftest import AGENCY, ANA, OLI, S1_SHOP, S2_SHOP, load_demo

SHOP = Scope(shop_code=S1_SHOP)


@pytest.fixture()
def store(store_engine: Engine) -> Engine:
    load_demo(store_engine)
    return store_engine


def _shop_id(engine: Engine, code: str) -> int:
    with read_session(engine) as session:
        shop = session.exec(select(Shop).where(Shop.code == code)).one()
        assert shop.id is not None
        return shop.id


def request_and_approve(
    engine: Engine,
    code: str = S1_SHOP,
    method: RequestMethod = RequestMethod.REQUEST_ACCESS,
    approve: bool = True,
) -> str:
    """A request, its approval and its grant: audit rows for the shop and the BC."""
    request_id = "req_" + uuid.uuid4().hex[:20]
    sid = _shop_id(engine, code)
    with write_session(engine) as session:
        admit_request(
            session,
            request_id=request_id,
            method=method,
            bc_id=AGENCY,
            shop_id=sid,
            requested_by=ANA,
            workflow_id=request_workflow_id(method, AGENCY, code),
        )
    if not approve:
        return request_id
    with write_session(engine) as session:
        decide_approval(session, request_id=request_id, by=OLI)  # grants in the same step
    return request_id


def lines_of(engine: Engine, scope: Scope = SHOP, since: datetime | None = None) -> list[str]:
    """The export's lines as a file holds them, signed with the store's key."""
    return "".join(export_text(engine, scope, since).body).splitlines()


def verify(engine: Engine, lines: list[str]) -> int:
    with read_session(engine) as session:
        return verify_lines(lines, session).lines


def refusal(check: Callable[[], object]) -> tuple[str, int]:
    with pytest.raises(Refusal) as err:
        check()
    return err.value.code, int(err.value.details["line"])


# --- a good export ------------------------------------------------------------------------


def test_r27_shop_export_verifies_and_a_later_export_continues_it(store: Engine) -> None:
    request_id = request_and_approve(store)
    first = lines_of(store)
    changes = [json.loads(line) for line in first[1:-1]]
    # R21: the shop's story, in order, each line chained to the one before.
    assert [(c["entity"], c["action"]) for c in changes if c["entity_id"] == request_id] == [
        ("access_request", "requested"),
        ("access_request", "approved"),
    ]
    assert any(c["entity"] == "shop_grant" and c["action"] == "granted" for c in changes)
    assert all(b["prev_line"] == a["hash"] for a, b in pairwise(changes))
    assert verify(store, first) == len(changes)

    # Changes elsewhere do not enter this shop's file; changes to the shop extend it.
    request_and_approve(store, code=S2_SHOP, approve=False)
    request_and_approve(store, method=RequestMethod.ADD_MY_SHOP)
    later = lines_of(store)
    assert later[1 : len(first) - 1] == first[1:-1]  # the same lines, the same hashes
    assert len(later) > len(first)
    assert verify(store, later) == len(later) - 2
    # The earlier file still verifies: the store's chain only grew.
    assert verify(store, first) == len(changes)


def test_r27_export_since_links_to_the_change_before_it(store: Engine) -> None:
    request_and_approve(store)
    cut = datetime.now(UTC) + timedelta(milliseconds=1)
    with write_session(store) as session:
        audit.record(session, actor=ANA, entity="shop", entity_id=S1_SHOP, action="noted", at=cut)
    whole, tail = lines_of(store), lines_of(store, since=cut)
    assert len(tail) == 3  # header, the one change at or after the cut, trailer
    assert json.loads(tail[1]) == json.loads(whole[-2])
    assert json.loads(tail[0])["prev_line"] == json.loads(whole[-3])["hash"]
    assert verify(store, tail) == 1


def test_r27_bc_export_covers_its_requests_and_grants(store: Engine) -> None:
    request_id = request_and_approve(store)
    changes = [json.loads(line) for line in lines_of(store, Scope(bc_id=AGENCY))[1:-1]]
    assert {("access_request", "requested"), ("shop_grant", "granted")} <= {
        (c["entity"], c["action"]) for c in changes
    }
    assert request_id in {c["entity_id"] for c in changes}


# --- tampering ----------------------------------------------------------------------------


@pytest.fixture()
def exported(store: Engine) -> list[str]:
    request_and_approve(store)
    request_and_approve(store, method=RequestMethod.ADD_MY_SHOP)
    lines = lines_of(store)
    assert len(lines) >= 7, lines
    return lines


def _edit(line: str, **changes: object) -> str:
    return json.dumps({**json.loads(line), **changes}, sort_keys=True)


def test_r27_an_altered_line_is_named(store: Engine, exported: list[str]) -> None:
    bad = list(exported)
    bad[3] = _edit(bad[3], actor="someone-else@example.com")
    assert refusal(lambda: verify_lines(bad)) == (ErrorCode.AUDIT_LINE_ALTERED, 4)
    assert refusal(lambda: verify(store, bad)) == (ErrorCode.AUDIT_LINE_ALTERED, 4)


def test_r27_an_altered_line_with_a_fresh_hash_is_named_against_the_store(
    store: Engine, exported: list[str]
) -> None:
    bad = list(exported)
    line = json.loads(bad[3]) | {"actor": "someone-else@example.com"}
    fields = {k: line[k] for k in ("seq", "at", "actor", "entity", "entity_id", "action")}
    line["hash"] = audit.row_hash(**fields, detail=line["detail_json"], prev_hash=line["prev_hash"])
    bad[3] = json.dumps(line, sort_keys=True)
    # On its own, the file shows a break after the line; the store names the line itself.
    assert refusal(lambda: verify_lines(bad)) == (ErrorCode.AUDIT_LINE_OUT_OF_CHAIN, 5)
    assert refusal(lambda: verify(store, bad)) == (ErrorCode.AUDIT_STORE_MISMATCH, 4)


@pytest.mark.parametrize("dropped", [1, 3])
def test_r27_a_dropped_line_is_named(store: Engine, exported: list[str], dropped: int) -> None:
    bad = exported[:dropped] + exported[dropped + 1 :]
    # The line that took its place (same number) no longer follows the one before it.
    assert refusal(lambda: verify_lines(bad)) == (ErrorCode.AUDIT_LINE_OUT_OF_CHAIN, dropped + 1)
    assert refusal(lambda: verify(store, bad)) == (ErrorCode.AUDIT_LINE_OUT_OF_CHAIN, dropped + 1)


def test_r27_lines_dropped_from_the_end_are_noticed(exported: list[str]) -> None:
    last_change = exported[:-2] + exported[-1:]
    assert refusal(lambda: verify_lines(last_change))[0] == ErrorCode.AUDIT_LINES_MISSING
    no_trailer = exported[:-1]
    assert refusal(lambda: verify_lines(no_trailer)) == (
        ErrorCode.AUDIT_LINES_MISSING,
        len(exported),
    )


def test_r27_swapped_lines_are_named(store: Engine, exported: list[str]) -> None:
    bad = list(exported)
    bad[2], bad[3] = bad[3], bad[2]
    assert refusal(lambda: verify_lines(bad)) == (ErrorCode.AUDIT_LINE_OUT_OF_CHAIN, 3)
    assert refusal(lambda: verify(store, bad)) == (ErrorCode.AUDIT_LINE_OUT_OF_CHAIN, 3)


def test_r27_a_file_that_is_not_an_export_is_refused(exported: list[str]) -> None:
    assert refusal(lambda: verify_lines([])) == (ErrorCode.AUDIT_NOT_AN_EXPORT, 1)
    assert refusal(lambda: verify_lines(exported[1:])) == (ErrorCode.AUDIT_NOT_AN_EXPORT, 1)
    garbled = [exported[0], "{not json", *exported[1:]]
    assert refusal(lambda: verify_lines(garbled)) == (ErrorCode.AUDIT_LINE_ALTERED, 2)


def test_r27_unknown_scopes_are_refused(store: Engine) -> None:
    with read_session(store) as session, pytest.raises(Refusal) as err:
        export(session, Scope(shop_code="NOSUCHSHOP"))
    assert err.value.code == ErrorCode.UNKNOWN_SHOP_CODE
    with read_session(store) as session, pytest.raises(Refusal) as err:
        export(session, Scope(bc_id=12345))
    assert err.value.code == ErrorCode.UNKNOWN_BC


# --- memory (R27) ---------------------------------------------------------------------------


def _fill(engine: Engine, rows: int, batch: int = 2000) -> None:
    """``rows`` changes in the shop's scope through the chain's own writer, as
    bench/growth.py's ``fill_chain`` writes them."""
    for start in range(0, rows, batch):
        names = range(start, min(start + batch, rows))
        with write_session(engine) as session:
            audit.record_many(
                session,
                [audit.Change(ANA, "shop", S1_SHOP, "renamed", detail={"name": f"Shop {n}"})
                 for n in names],
            )  # fmt: skip


def _peaks(engine: Engine, file: Path) -> list[tuple[int, int]]:
    """The shop's export written to ``file``, then checked against the store: per step,
    the lines it covered and the peak of the memory Python allocated meanwhile."""

    def export_to_file() -> int:
        made = export_text(engine, SHOP)
        with file.open("w", encoding="utf-8") as out:
            out.writelines(made.body)
        return made.lines

    measured = []
    for step in (export_to_file, lambda: verify_export(file, engine).lines):
        tracemalloc.start()
        try:
            lines = step()
            measured.append((lines, tracemalloc.get_traced_memory()[1]))
        finally:
            tracemalloc.stop()
    return measured


def test_r27_export_and_its_check_against_the_store_run_in_flat_memory(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """A scope of a million rows must not need gigabytes (docs/decisions.md, "Exports and
    verification stream"): the export is written as its rows are read, and the check reads
    the file and the store's run a line at a time, so four times the rows peak no higher."""
    load_demo(sqlite_engine)
    _fill(sqlite_engine, 2000)
    _peaks(sqlite_engine, tmp_path / "warm.jsonl")  # first-use caches (compiled SQL) apart
    small = _peaks(sqlite_engine, tmp_path / "small.jsonl")
    _fill(sqlite_engine, 6000)
    large = _peaks(sqlite_engine, tmp_path / "large.jsonl")
    for (few, low), (many, high) in zip(small, large, strict=True):
        assert few >= 2000 and many == few + 6000
        assert high < 1.5 * low, (small, large)


# --- the chain in the store ---------------------------------------------------------------


def test_r27_concurrent_writers_extend_one_chain(store: Engine) -> None:
    before = _head(store).seq
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(10):
                with write_session(store) as session:
                    audit.record(
                        session, actor=ANA, entity="shop", entity_id=S1_SHOP, action=f"t{n}-{i}"
                    )
        except BaseException as err:  # reported below: a thread's failure fails the test
            errors.append(err)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _head(store).seq == before + 40
    with read_session(store) as session:
        assert audit.first_broken_seq(session) is None


def test_r27_changes_keep_their_order_and_a_rolled_back_one_is_not_recorded(
    store: Engine,
) -> None:
    """A transaction's changes join the chain in the order recorded; one that rolls back
    leaves neither rows nor a moved head, and the chain still verifies."""
    before = _head(store).seq
    with write_session(store) as session:
        audit.record(session, actor=ANA, entity="shop", entity_id=S1_SHOP, action="first")
        session.execute(text("UPDATE shop SET name = name WHERE code = :c"), {"c": S1_SHOP})
        audit.record(session, actor=ANA, entity="shop", entity_id=S1_SHOP, action="second")
    with read_session(store) as session:
        rows = session.exec(select(audit.AuditEvent).where(audit.AuditEvent.seq > before)).all()
    assert [(r.seq, r.action) for r in rows] == [(before + 1, "first"), (before + 2, "second")]

    with pytest.raises(RuntimeError), write_session(store) as session:
        audit.record(session, actor=ANA, entity="shop", entity_id=S1_SHOP, action="undone")
        raise RuntimeError("the transaction fails after recording")
    assert _head(store).seq == before + 2
    with read_session(store) as session:
        assert audit.first_broken_seq(session) is None


def test_r27_a_row_altered_in_the_store_breaks_the_chain(store: Engine) -> None:
    request_and_approve(store)
    with store.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'x@example.com' WHERE seq = 3"))
    with read_session(store) as session:
        assert audit.first_broken_seq(session) == 3


def _head(engine: Engine) -> audit.ChainHead:
    with read_session(engine) as session:
        return audit.head(session)


# --- the CLI: the error contract ------------------------------------------------------------


async def test_r27_cli_exports_verifies_and_names_the_bad_line(
    demo: Engine, tmp_path: Path
) -> None:
    from tests.test_cli import refused, run

    request_and_approve(demo)
    env = {"DATABASE_URL": demo.url.render_as_string(hide_password=False), "DEV_MODE": "1"}
    out = tmp_path / "s1.jsonl"
    made = await run("starter.py", "audit", "export", "--shop-code", S1_SHOP.lower(),
                     "-o", str(out), "--json", env=env)  # fmt: skip
    assert made.code == 0, made.err
    assert made.json["lines"] == len(out.read_text().splitlines()) - 2
    ok = await run("starter.py", "audit", "verify", str(out), "--json", env=env)
    assert ok.code == 0 and ok.json["ok"] is True and ok.json["head"] == made.json["head"]
    head = await run("starter.py", "audit", "head", "--shop-code", S1_SHOP, "--json", env=env)
    assert head.json["head"] == made.json["head"]

    lines = out.read_text().splitlines()
    lines[2] = lines[2].replace(ANA, "mallory@example.com")
    out.write_text("\n".join(lines) + "\n")
    bad = await run("starter.py", "audit", "verify", str(out), "--json", env=env)
    assert "line 3" in refused(bad, ErrorCode.AUDIT_LINE_ALTERED).lower()
    assert bad.json["error"]["details"] == {"line": 3}


@pytest.mark.slow
async def test_r27_cli_refuses_bad_input_and_writes_nothing(demo: Engine, tmp_path: Path) -> None:
    from tests.test_cli import refused, run

    env = {"DATABASE_URL": demo.url.render_as_string(hide_password=False), "DEV_MODE": "1"}
    out = tmp_path / "never.jsonl"
    both = await run("starter.py", "audit", "export", "--shop-code", S1_SHOP, "--bc",
                     str(AGENCY), "-o", str(out), "--json", env=env)  # fmt: skip
    assert "exactly one" in refused(both, ErrorCode.INVALID_INPUT)
    unknown = await run("starter.py", "audit", "export", "--shop-code", "NOPE",
                        "-o", str(out), "--json", env=env)  # fmt: skip
    refused(unknown, ErrorCode.UNKNOWN_SHOP_CODE)
    stdout_json = await run("starter.py", "audit", "export", "--bc", str(AGENCY), "--json",
                            env=env)  # fmt: skip
    assert "--output" in refused(stdout_json, ErrorCode.INVALID_INPUT)
    since = await run("starter.py", "audit", "export", "--bc", str(AGENCY), "--since",
                      "yesterday", "-o", str(out), "--json", env=env)  # fmt: skip
    assert "--since" in refused(since, ErrorCode.INVALID_INPUT)
    assert not out.exists()
    missing = await run("starter.py", "audit", "verify", str(tmp_path / "none"), "--json",
                        env=env)  # fmt: skip
    assert "does not exist" in refused(missing, ErrorCode.INVALID_INPUT)
    not_export = tmp_path / "x.jsonl"
    not_export.write_bytes(b"\xff\xfe")
    refused(await run("starter.py", "audit", "verify", str(not_export), "--json", env=env),
            ErrorCode.AUDIT_NOT_AN_EXPORT)  # fmt: skip
