"""Business refusals inside activity failures, re-raised for an update's caller.

Activities raise non-retryable ``ApplicationError``s whose type is an error code
(activities/refusals.py). Temporal wraps a regular activity's in ``ActivityError``; a local
activity's arrives as the ``ApplicationError`` itself. An update handler re-raises the
refusal so the caller sees the code, message and details, not the wrap.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.errors import ErrorCode


ACTIVITY_FAILURES = (ActivityError, ApplicationError)
"""What awaiting an activity raises when it fails: catch these around activity calls."""


def refusal_of(err: ActivityError | ApplicationError) -> ApplicationError:
    cause = err.cause if isinstance(err, ActivityError) else err
    if isinstance(cause, ApplicationError):
        return ApplicationError(cause.message, *cause.details, type=cause.type, non_retryable=True)
    return ApplicationError(str(err), type=ErrorCode.SERVICE_UNAVAILABLE, non_retryable=True)


def failed_for_good(err: ActivityError | ApplicationError) -> ApplicationError | None:
    """The activity's own non-retryable error, or None when the failure is something else
    (a cancellation, say) that the caller must let through."""
    cause = err.cause if isinstance(err, ActivityError) else err
    return cause if isinstance(cause, ApplicationError) else None
