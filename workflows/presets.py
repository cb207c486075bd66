"""Timeouts and retry policies for every activity call, in one place.

Refusals are non-retryable ``ApplicationError``s raised by the activities themselves; these
policies only cover faults (database briefly away, SMTP down), which retry without limit
but back off to a minute, because a request must never be lost (R20).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy

_FAULT_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)

STORE: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": _FAULT_RETRY,
}

MAIL: dict[str, Any] = {
    "start_to_close_timeout": timedelta(minutes=2),
    "retry_policy": _FAULT_RETRY,
}
