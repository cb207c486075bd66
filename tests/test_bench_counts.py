"""What the production-shape bench counts is counted right: Temporal Cloud actions read
from recorded histories (bench/temporal_actions.py), and the audit head's take is the one
statement bench/timed_worker.py times, on both stores' dialects. No time is asserted:
the figures themselves live in the benches (docs/performance.md)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import (
    ActivityTaskStartedEventAttributes,
    HistoryEvent,
)
from temporalio.client import WorkflowHistory

from bench.temporal_actions import count_actions, per_lifecycle
from bench.timed_worker import AuditHeadTimings, flush_forever, is_take, read_timings
from store import audit

HISTORIES = Path(__file__).parent / "histories"


def history(name: str) -> list[HistoryEvent]:
    return list(WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text()).events)


def test_an_s1_approval_costs_nine_actions_read_from_its_history() -> None:
    """Update-with-start (a start and an update), the admission's local activity, the
    e-mail, the approval update and its local activity, the requester's e-mail, two
    search attribute upserts: each local activity ran in a workflow task of its own.
    (Recorded without R25's reminder timer, which the bench's requests add as a tenth.)"""
    actions = count_actions(history("RequestAccessToShop_s1_approval"))
    assert dict(actions) == {
        "workflow_started": 1,
        "activities": 2,
        "local_activities": 2,
        "timers": 0,
        "signals": 0,
        "updates": 2,
        "search_attribute_upserts": 2,
        "child_workflows": 0,
    }


def test_local_activities_in_one_workflow_task_are_one_action_and_signals_count() -> None:
    events = history("AddMyShop_ui_signal")
    markers = [e for e in events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
    assert len(markers) == 3  # two of them recorded by the same workflow task
    actions = count_actions(events)
    assert actions["local_activities"] == 2
    assert actions["signals"] == 2 and actions["updates"] == 1


def test_a_retried_activity_is_billed_per_attempt() -> None:
    events = history("RequestAccessToShop_s1_approval")
    started = next(e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)
    retried = HistoryEvent()
    retried.CopyFrom(started)
    retried.activity_task_started_event_attributes.CopyFrom(
        ActivityTaskStartedEventAttributes(
            scheduled_event_id=started.activity_task_started_event_attributes.scheduled_event_id,
            attempt=3,
        )
    )
    patched = [retried if e is started else e for e in events]
    assert count_actions(patched)["activities"] == 2 - 1 + 3


def test_per_lifecycle_is_the_mean_with_a_total() -> None:
    one, other = history("RequestAccessToShop_s1_approval"), history("AddMyShop_ui_signal")
    means = per_lifecycle([one, other])
    assert means["signals"] == 1.0 and means["updates"] == 1.5
    assert means["total"] == (9 + 10) / 2
    assert per_lifecycle([])["total"] == 0.0


@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()], ids=["pg", "sqlite"])
def test_the_timed_statement_is_the_heads_take_and_not_its_hash_update(dialect: object) -> None:
    take = str(audit._TAKE.compile(dialect=dialect))  # type: ignore[arg-type]
    assert is_take(take)
    rehash = str(
        update(audit._HEAD)
        .where(audit._HEAD.c.id == 1)
        .values(hash="x")
        .compile(
            dialect=dialect  # type: ignore[arg-type]
        )
    )
    assert not is_take(rehash)
    assert not is_take("INSERT INTO audit_log (seq) VALUES (1) RETURNING seq")


def test_timings_add_up_across_takes() -> None:
    timings = AuditHeadTimings()
    timings.took(0.002)
    timings.took(0.010)
    timings.held(0.005, 0.020)
    timings.held(0.001, 0.004, committed=False)
    snapshot = timings.snapshot()
    assert snapshot["takes"] == 2 and snapshot["waits_s"] == [0.002, 0.010]
    assert snapshot["rolled_back"] == 1
    assert snapshot["wait_s"] == pytest.approx(0.012)
    assert snapshot["hold_s"] == pytest.approx(0.006)
    assert snapshot["transaction_s"] == pytest.approx(0.024)


def test_the_bench_reads_back_every_wait_the_worker_flushed(tmp_path: Path) -> None:
    """The worker appends only new waits per flush; the bench must still see all of them,
    in order, with the totals they belong to."""
    timings = AuditHeadTimings()
    out = tmp_path / "timings.json"
    assert read_timings(out)["takes"] == 0  # before the first write
    threading.Thread(target=flush_forever, args=(timings, out), daemon=True).start()
    timings.took(0.25)
    deadline = time.monotonic() + 30
    while read_timings(out)["takes"] < 1:
        assert time.monotonic() < deadline, "the first wait was never flushed"
        time.sleep(0.05)
    timings.held(0.125, 1.0)
    timings.took(0.5)  # after the hold: the write naming two takes has both
    while read_timings(out)["takes"] < 2:
        assert time.monotonic() < deadline, "the second wait was never flushed"
        time.sleep(0.05)
    read = read_timings(out)
    assert read["waits_s"] == [0.25, 0.5]
    assert read["wait_s"] == pytest.approx(0.75)
    assert read["hold_s"] == pytest.approx(0.125) and read["transaction_s"] == pytest.approx(1.0)
