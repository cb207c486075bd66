"""Which workflow, run, request and activity a log line belongs to.

Temporal's own loggers attach it as ``temporal_workflow`` / ``temporal_activity`` dicts;
any other logger called from inside an activity (the store, the mailer, SQLAlchemy) gets
it from a context variable that the worker's activity interceptor binds
(``runtime.metrics.ActivityObserver``). :class:`LogContextFilter` puts both on every
record as the flat fields ``workflow_id``, ``run_id``, ``request_id``, ``activity_type``,
``attempt``.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import asdict, dataclass

CONTEXT_FIELDS = ("workflow_id", "run_id", "request_id", "activity_type", "attempt")


@dataclass(frozen=True)
class ActivityLogContext:
    workflow_id: str | None = None
    run_id: str | None = None
    activity_type: str | None = None
    attempt: int | None = None
    request_id: str | None = None


_current: ContextVar[ActivityLogContext | None] = ContextVar("shop_access_log", default=None)


def bind_activity(context: ActivityLogContext) -> None:
    """Bind for the rest of the current task (an activity runs in its own task/context)."""
    _current.set(context)


class LogContextFilter(logging.Filter):
    """Adds the context fields to every record that passes (None where they do not apply)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields: dict[str, object] = dict.fromkeys(CONTEXT_FIELDS)
        bound = _current.get()
        if bound is not None:
            fields.update(asdict(bound))
        temporal = getattr(record, "temporal_activity", None) or getattr(
            record, "temporal_workflow", None
        )
        if isinstance(temporal, dict):
            fields["workflow_id"] = temporal.get("workflow_id") or fields["workflow_id"]
            fields["run_id"] = (
                temporal.get("run_id") or temporal.get("workflow_run_id") or fields["run_id"]
            )
            fields["activity_type"] = temporal.get("activity_type") or fields["activity_type"]
            fields["attempt"] = temporal.get("attempt") or fields["attempt"]
        for name, value in fields.items():
            if getattr(record, name, None) is None:
                setattr(record, name, value)
        return True
