"""Field types shared by every boundary: reference data, messages, CLI options, forms.

One definition each, so the CLI, the web pages, ``load`` files and workflow inputs refuse
the same inputs with the same words.

- Ids are database integers: PostgreSQL's BIGINT and SQLite's INTEGER hold 1..2^63-1.
  Anything outside would fail deep in the store (``OverflowError``), so it is refused at
  the edge, before a workflow starts.
- Display names end up in e-mail headers, pages and logs. A control character (CR, LF,
  NUL, TAB...), a line or paragraph separator, or a bidirectional override can break a
  header, fake a line in a log, or make a name read as something else: none of them is
  part of a person's or a business's name, so they are refused, not cleaned.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, EmailStr, Field, TypeAdapter

from models.errors import ErrorCode, Refusal

DB_ID_MIN = 1
DB_ID_MAX = 2**63 - 1
"""The range of every numeric id (BC, ad account, campaign, user, shop)."""

NAME_MAX_LENGTH = 200

# Bidirectional embeddings, overrides and isolates (LRE..RLO, LRI..PDI): they reorder
# the text around them, the classic way to disguise a name. The plain marks (LRM, RLM,
# ALM) only nudge neutral characters and do appear in real right-to-left names.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp"})


def display_name_problem(value: str) -> str | None:
    """Why ``value`` cannot be a display name, or None if it can."""
    if not value.strip():
        return "must not be empty"
    if len(value) > NAME_MAX_LENGTH:
        return f"must be at most {NAME_MAX_LENGTH} characters"
    for char in value:
        if char in _BIDI_CONTROLS or unicodedata.category(char) in _REFUSED_CATEGORIES:
            return f"must not contain control characters (found U+{ord(char):04X})"
    return None


def _check_display_name(value: str) -> str:
    problem = display_name_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value.strip()


DisplayName = Annotated[str, AfterValidator(_check_display_name)]
"""A person's or a business's name: 1-200 characters, no control characters."""

DbId = Annotated[int, Field(ge=DB_ID_MIN, le=DB_ID_MAX)]
"""A numeric id the store can hold."""


def require_db_id(field: str, value: int | None) -> None:
    """Refuse (``invalid_input``) an id the store cannot hold, naming the ``field``.

    Entry points call this before any workflow starts: an id out of range would otherwise
    fail inside an activity, long after the caller could be told.
    """
    if value is None:
        return
    if isinstance(value, bool) or not DB_ID_MIN <= value <= DB_ID_MAX:
        raise Refusal(
            ErrorCode.INVALID_INPUT,
            f"{field} must be a whole number from {DB_ID_MIN} to {DB_ID_MAX}; got {value}.",
            field=field,
        )


def require_display_name(field: str, value: str, *, label: str | None = None) -> str:
    """The name, stripped; or ``invalid_input`` naming the field (``label`` is how people
    read it, e.g. "The new Business Center's name") and the problem."""
    problem = display_name_problem(value)
    if problem is not None:
        raise Refusal(ErrorCode.INVALID_INPUT, f"{label or field} {problem}.", field=field)
    return value.strip()


_EMAIL = TypeAdapter(EmailStr)


def require_email(field: str, value: str) -> str:
    """The address, stripped and lower-cased; or ``invalid_input`` naming the ``field``.

    Addresses go into e-mail headers: anything an e-mail validator refuses (a CR or LF
    included) is refused here, not cleaned.
    """
    address = value.strip().lower()
    if len(address) > 320:
        raise Refusal(
            ErrorCode.INVALID_INPUT, f"{field}: {value!r} is not an e-mail address.", field=field
        )
    try:
        _EMAIL.validate_python(address)
    except ValueError:
        raise Refusal(
            ErrorCode.INVALID_INPUT, f"{field}: {value!r} is not an e-mail address.", field=field
        ) from None
    return address


def require_bc_or_shop(bc_id: int | None, shop_code: str | None) -> None:
    """Lists and scopes name exactly one of a Business Center or a shop (CLI and API)."""
    if (bc_id is None) == (shop_code is None):
        raise Refusal(ErrorCode.INVALID_INPUT, reason="bc_or_shop")
