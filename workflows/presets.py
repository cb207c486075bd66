"""Timeouts and retry policies for every activity call, in one place.

Refusals are non-retryable ``ApplicationError``s raised by the activities themselves; these
policies only cover faults (database briefly away, SMTP down), which retry without limit
but back off to a minute, because a request must never be lost (R20).

Workflow modules import this one as ``import workflows.presets as presets`` inside
``workflow.unsafe.imports_passed_through()``: the sandbox passes a module through only
when its full name reaches the sandbox's import hook, and ``from workflows import
presets`` names only the package there, so the module was loaded again for every run
(1.7 % of a worker's CPU, docs/performance.md).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final, TypedDict

from temporalio.common import RetryPolicy


class ActivityPreset(TypedDict):
    """Options every activity call takes, regular or local: unpacked at the call
    (``**presets.STORE``), so mypy checks each key against the SDK's parameters."""

    start_to_close_timeout: timedelta
    retry_policy: RetryPolicy


class HeartbeatPreset(ActivityPreset):
    """A long activity's options: a regular activity only (local ones do not heartbeat)."""

    heartbeat_timeout: timedelta


class WaitPreset(TypedDict):
    """A wait whose length the call sets (``start_to_close_timeout`` given at the call)."""

    heartbeat_timeout: timedelta
    retry_policy: RetryPolicy


_FAULT_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)

# A start-to-close timeout is also how long a request waits when the worker running its
# activity dies (SIGKILL, lost host): only then is the activity retried elsewhere (R20).
# So keep them near what the work needs, not generous. A store activity is one short
# transaction; retrying one that is merely slow is safe, since each is idempotent. The
# request workflow runs them as local activities (a marker in history, no task round trip);
# if its worker dies, the workflow task times out and the next worker runs them again.
STORE: Final[ActivityPreset] = {
    "start_to_close_timeout": timedelta(seconds=10),
    "retry_policy": _FAULT_RETRY,
}

# One e-mail per team member, each delivered once by key: a retry after a timeout skips
# those already sent, so even a large team on a slow relay makes progress every attempt.
MAIL: Final[ActivityPreset] = {
    "start_to_close_timeout": timedelta(seconds=20),
    "retry_policy": _FAULT_RETRY,
}

# R19: one page of campaign stops. The heartbeat timeout is what notices a dead worker:
# the page is retried on another worker within seconds, resuming from the last cursor.
CAMPAIGN_PAGE: Final[HeartbeatPreset] = {
    "start_to_close_timeout": timedelta(minutes=10),
    "heartbeat_timeout": timedelta(seconds=5),
    "retry_policy": _FAULT_RETRY,
}

# R26: waiting for a subscription's next events. The wait heartbeats every half second,
# so a dead worker's wait moves to another within seconds; its start-to-close is set per
# call from the wait's own length.
WEBHOOK_WAIT: Final[WaitPreset] = {
    "heartbeat_timeout": timedelta(seconds=10),
    "retry_policy": _FAULT_RETRY,
}

# One POST: the whole exchange gets 10 s (client/safe_targets.py, R31); the rest of the
# budget is the store's two short transactions.
WEBHOOK_POST_TIMEOUT = timedelta(seconds=15)

# R24: one bulk code's admission, which starts an ordinary request and waits for the
# store's answer (bounded by RequestService's own 30 s, twice when a decided request is
# still closing). It heartbeats while it waits, so a killed worker is noticed in seconds;
# the retry asks for the same request id, so nothing is admitted twice.
BULK_ADMISSION: Final[HeartbeatPreset] = {
    "start_to_close_timeout": timedelta(seconds=75),
    "heartbeat_timeout": timedelta(seconds=5),
    "retry_policy": _FAULT_RETRY,
}
