"""Temporal Cloud actions (what it bills) counted from a workflow's event history.

Temporal documents how events map to billable actions ("Temporal Cloud Actions"; the
Cloud UI annotates each history event with its actions the same way). From a history:

- **workflow started**: 1 (``WorkflowExecutionStarted``; update-with-start is a start
  plus an update);
- **activities**: 1 per attempt of each scheduled activity (the last
  ``ActivityTaskStarted``'s attempt number: retries are billed);
- **local activities**: 1 per workflow task that ran any (their markers name the
  workflow task that recorded them), however many ran in it;
- **timers**: 1 per ``TimerStarted``;
- **signals**: 1 per signal received or sent;
- **updates**: 1 per accepted update (``WorkflowExecutionUpdateAccepted``);
- **search attribute upserts**: 1 per ``UpsertWorkflowSearchAttributes``;
- **child workflows**: 1 per child started.

What a history cannot show is left out and said so: queries, rejected updates (never
written to history), heartbeats, and the start's retention/storage charges. The benches
send no queries during a lifecycle, and no activity of ours heartbeats.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

LOCAL_ACTIVITY_MARKER = "core_local_activity"

CATEGORIES = (
    "workflow_started",
    "activities",
    "local_activities",
    "timers",
    "signals",
    "updates",
    "search_attribute_upserts",
    "child_workflows",
)

_ONE_EACH = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: "workflow_started",
    EventType.EVENT_TYPE_TIMER_STARTED: "timers",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signals",
    EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: "signals",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "updates",
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: "search_attribute_upserts",
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: "child_workflows",
}


def count_actions(events: Iterable[HistoryEvent]) -> Counter[str]:
    """The billable actions of one workflow's history, by category."""
    actions: Counter[str] = Counter({name: 0 for name in CATEGORIES})
    attempts: dict[int, int] = {}  # scheduled event id -> last attempt started
    local_activity_tasks: set[int] = set()
    for event in events:
        kind = event.event_type
        if kind in _ONE_EACH:
            actions[_ONE_EACH[kind]] += 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attempts.setdefault(event.event_id, 1)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started = event.activity_task_started_event_attributes
            attempts[started.scheduled_event_id] = max(1, started.attempt)
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == LOCAL_ACTIVITY_MARKER:
                local_activity_tasks.add(marker.workflow_task_completed_event_id)
    actions["activities"] = sum(attempts.values())
    actions["local_activities"] = len(local_activity_tasks)
    return actions


def per_lifecycle(histories: Iterable[Iterable[HistoryEvent]]) -> dict[str, float]:
    """Mean actions per history over a sample, by category, with their ``total``."""
    totals: Counter[str] = Counter({name: 0 for name in CATEGORIES})
    count = 0
    for events in histories:
        totals.update(count_actions(events))
        count += 1
    means = {name: round(totals[name] / count, 2) if count else 0.0 for name in CATEGORIES}
    means["total"] = round(sum(totals.values()) / count, 2) if count else 0.0
    return means
