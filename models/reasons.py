"""The optional reason a shop team gives when it declines a request (R22).

Free text the requester reads in an e-mail and on pages, so it follows the display names'
rules (models/fields.py): no control characters, line separators or bidirectional
overrides, which could fake a line or disguise words; only longer. Blank means no reason.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from models.errors import ErrorCode, Refusal
from models.fields import _BIDI_CONTROLS, _REFUSED_CATEGORIES

REASON_MAX_LENGTH = 500


def reason_problem(value: str) -> dict[str, Any] | None:
    """Why ``value`` cannot be a decline reason, as the details of an ``invalid_input``
    refusal (one ``reason`` per problem, so each is one whole sentence in models/wording.py,
    translated whole, R28), or None if it can be."""
    if len(value.strip()) > REASON_MAX_LENGTH:
        return {
            "reason": "decline_reason_too_long",
            "field": "reason",
            "max_length": REASON_MAX_LENGTH,
        }
    for char in value:
        if char in _BIDI_CONTROLS or unicodedata.category(char) in _REFUSED_CATEGORIES:
            return {
                "reason": "decline_reason_control_character",
                "field": "reason",
                "character": f"U+{ord(char):04X}",
            }
    return None


def require_reason(value: str | None) -> str | None:
    """The reason, stripped (None when blank); or ``invalid_input`` naming the field."""
    if value is None or not value.strip():
        return None
    problem = reason_problem(value)
    if problem is not None:
        raise Refusal(ErrorCode.INVALID_INPUT, **problem)
    return value.strip()
