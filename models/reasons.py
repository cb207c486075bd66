"""The optional reason a shop team gives when it declines a request (R22).

Free text the requester reads in an e-mail and on pages, so it follows the display names'
rules (models/fields.py): no control characters, line separators or bidirectional
overrides, which could fake a line or disguise words; only longer. Blank means no reason.
"""

from __future__ import annotations

import unicodedata

from models.errors import ErrorCode, Refusal
from models.fields import _BIDI_CONTROLS, _REFUSED_CATEGORIES

REASON_MAX_LENGTH = 500


def reason_problem(value: str) -> str | None:
    """Why ``value`` cannot be a decline reason, or None if it can."""
    if len(value.strip()) > REASON_MAX_LENGTH:
        return f"must be at most {REASON_MAX_LENGTH} characters"
    for char in value:
        if char in _BIDI_CONTROLS or unicodedata.category(char) in _REFUSED_CATEGORIES:
            return f"must not contain control characters (found U+{ord(char):04X})"
    return None


def require_reason(value: str | None) -> str | None:
    """The reason, stripped (None when blank); or ``invalid_input`` naming the field."""
    if value is None or not value.strip():
        return None
    problem = reason_problem(value)
    if problem is not None:
        raise Refusal(
            ErrorCode.INVALID_INPUT, reason="decline_reason", field="reason", problem=problem
        )
    return value.strip()
