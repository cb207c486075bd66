"""Turn the store's refusals into non-retryable ``ApplicationError``s with the code as type."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from models.errors import Refusal

P = ParamSpec("P")
R = TypeVar("R")


def refusals_as_errors(fn: Callable[P, R]) -> Callable[P, R]:
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

    return wrapper
