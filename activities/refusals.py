"""How an activity's failure reaches its workflow: refusal, fault that heals, or fault that
does not.

- A :class:`Refusal` (a rule said no) becomes a non-retryable ``ApplicationError`` whose
  ``type`` is the refusal's code, as before.
- Operational faults (the database locked, restarting or unreachable; a connection reset)
  stay ordinary exceptions: Temporal retries them with the presets' back-off, and they
  heal when the database is back (R20).
- Bad data and broken invariants (``ValueError``, ``OverflowError``, pydantic's
  ``ValidationError``, ``AssertionError``, a missing row that must exist...) fail the same
  way on every attempt. Retrying them for ever hides the request from everyone, so they
  become non-retryable ``ApplicationError``s of type ``invalid_data`` or
  ``broken_invariant`` and the workflow ends where ops can find it
  (``RequestStatus = 'failed'``, docs/operations.md).
- A constraint violation (``IntegrityError``) can be a concurrent writer's row, which the
  next attempt sees and steps over; it is retried a few times and only then treated as a
  broken invariant.
- Anything else is unknown, so it is retried (it may be a fault we have not met yet).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar
from zoneinfo import ZoneInfoNotFoundError

from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    NoResultFound,
    StatementError,
)
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from models.errors import ErrorCode, Refusal

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger(__name__)

# Attempts after which a constraint violation is no longer a race but a broken invariant.
INTEGRITY_ATTEMPTS = 3

# Wrong data: every attempt reads the same values and fails the same way. ValueError covers
# pydantic's ValidationError and UnicodeError; a stored timezone that does not exist raises
# ZoneInfoNotFoundError (a KeyError, so it is named before LookupError is tried).
_INVALID_DATA: tuple[type[BaseException], ...] = (
    ZoneInfoNotFoundError,
    ValueError,
    OverflowError,
    TypeError,
    DataError,
)
# The store contradicts itself or the code's assumptions. LookupError covers KeyError
# (ZoneInfoNotFoundError too: a stored timezone that does not exist) and IndexError.
_BROKEN_INVARIANT: tuple[type[BaseException], ...] = (
    AssertionError,
    LookupError,
    NoResultFound,
)


def fault_of(err: BaseException, attempt: int) -> ApplicationError | None:
    """The non-retryable error ``err`` stands for, or None if retrying may heal it."""
    if (
        isinstance(err, StatementError)
        and not isinstance(err, DBAPIError)
        and isinstance(err.orig, Exception)
    ):
        # SQLAlchemy wraps what a value's conversion raised (a bad enum, a wrong type):
        # classify the conversion's own error.
        return fault_of(err.orig, attempt)
    if isinstance(err, IntegrityError):
        if attempt < INTEGRITY_ATTEMPTS:
            return None
        code = ErrorCode.BROKEN_INVARIANT
    elif isinstance(err, _INVALID_DATA):
        code = ErrorCode.INVALID_DATA
    elif isinstance(err, _BROKEN_INVARIANT):
        code = ErrorCode.BROKEN_INVARIANT
    else:
        return None
    # The first line only: a database error's text repeats the whole statement.
    detail = str(err).strip().splitlines()[0] if str(err).strip() else ""
    message = f"{type(err).__name__}: {detail}" if detail else type(err).__name__
    return ApplicationError(
        message,
        {"exception": type(err).__name__},
        type=str(code),
        non_retryable=True,
    )


def _attempt() -> int:
    try:
        return activity.info().attempt
    except RuntimeError:  # called outside an activity (unit tests of the function)
        return 1


def refusals_as_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Classify what ``fn`` raises: refusal, healing fault (re-raised) or lasting fault."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except Refusal as refusal:
            # BENIGN: a refusal is an answer, not a fault; the SDK then logs it at DEBUG
            # instead of a warning with a traceback in the worker's (and quick start's)
            # output. The caller still gets the code and message.
            raise ApplicationError(
                refusal.message,
                refusal.details,
                type=refusal.code,
                non_retryable=True,
                category=ApplicationErrorCategory.BENIGN,
            ) from None
        except ApplicationError:
            raise
        except Exception as err:
            fault = fault_of(err, _attempt())
            if fault is None:
                raise
            log.error("%s failed for good: %s", fn.__name__, fault.message, exc_info=err)
            raise fault from err

    return wrapper
