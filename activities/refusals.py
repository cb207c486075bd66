"""Turn the store's refusals into non-retryable ``ApplicationError``s with the code as type."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from temporalio.exceptions import ApplicationError

from models.errors import Refusal

P = ParamSpec("P")
R = TypeVar("R")


def refusals_as_errors(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except Refusal as refusal:
            raise ApplicationError(
                refusal.message, refusal.details, type=refusal.code, non_retryable=True
            ) from None

    return wrapper
