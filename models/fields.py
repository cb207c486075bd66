"""Field types shared by every boundary: reference data, messages, CLI options, forms.

One definition each, so the CLI, the web pages, ``load`` files and workflow inputs refuse
the same inputs with the same words.

- Ids are database integers: PostgreSQL's BIGINT and SQLite's INTEGER hold 1..2^63-1.
  Anything outside would fail deep in the store (``OverflowError``), so it is refused at
  the edge, before a workflow starts.
- In JSON an id is a string of digits (R30): Business Center and ad-account ids have 19
  digits, and every JavaScript client (and jq before 1.7) reads a JSON number beyond 2^53
  as the nearest double, a different id, silently. ``Id`` is how the service writes one,
  ``DbId`` how it reads one from a client (docs/decisions.md "Ids are strings in JSON").
- Display names end up in e-mail headers, pages and logs. A control character (CR, LF,
  NUL, TAB...), a line or paragraph separator, or a bidirectional override can break a
  header, fake a line in a log, or make a name read as something else: none of them is
  part of a person's or a business's name, so they are refused, not cleaned.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    EmailStr,
    PlainSerializer,
    TypeAdapter,
    ValidationInfo,
    WithJsonSchema,
)

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

JSON_SAFE_MAX = 2**53
"""The largest integer every JSON reader holds exactly (an IEEE 754 double's)."""

ID_PATTERN = r"^[1-9][0-9]{0,18}$"
ID_JSON_SCHEMA: dict[str, object] = {
    "type": "string",
    "pattern": ID_PATTERN,
    "description": f"An id: a string of digits, {DB_ID_MIN} to {DB_ID_MAX} (R30).",
    "examples": ["7100000000000000001"],
}


_ID_TEXT = re.compile(ID_PATTERN)
_OUT_OF_RANGE = f"must be an id from {DB_ID_MIN} to {DB_ID_MAX}"


def _id_from_text(value: str) -> int:
    if value.isascii() and value.isdigit() and len(value) > 19 and value[0] != "0":
        raise ValueError(_OUT_OF_RANGE)  # digits, too many of them: say so, not "malformed"
    if not _ID_TEXT.fullmatch(value):
        raise ValueError(
            "must be an id: a string of digits without a leading zero, "
            'such as "7100000000000000001"'
        )
    return _in_range(int(value))


def _in_range(value: int) -> int:
    if not DB_ID_MIN <= value <= DB_ID_MAX:
        raise ValueError(_OUT_OF_RANGE)
    return value


_WRITTEN_ID = re.compile(r"-?[0-9]+")


def _read_id(value: object) -> int:
    """An id the service itself wrote: a string of digits, or a number (Temporal histories
    recorded before ids became strings hold numbers). Not range-checked: these models are
    also Temporal payloads, and one that fails to decode in a worker retries for ever
    (docs/decisions.md "Bad input is refused at the edge"); ids are checked
    where they come in (``DbId``, the services)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _WRITTEN_ID.fullmatch(value) and len(value) <= 20:
        return int(value)
    raise ValueError("must be an id: a string of digits")


def _read_sent_id(value: object) -> int:
    if isinstance(value, str):
        return _id_from_text(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _in_range(value)
    raise ValueError("must be an id: a string of digits")


EXACT_INTS: dict[str, Any] = {"exact_ints": True}
"""Validation context for Python callers whose ints never were JSON numbers (tests,
benchmarks building reference data in code): ``DbId`` then takes any int in range."""


def _read_client_id(value: object, info: ValidationInfo) -> int:
    """An id a client sent: a string of digits, or (deprecated, until the next release)
    a number no larger than 2^53. A larger number may already have been rounded by the
    client's JSON library, so reading it would act on another id: it is refused."""
    exact = isinstance(info.context, dict) and info.context.get("exact_ints") is True
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not exact
        and value > JSON_SAFE_MAX
    ):
        raise ValueError(
            f"is a number beyond 2^53 ({JSON_SAFE_MAX}), which JSON clients may have "
            'rounded; send the id as a string of digits, such as "7100000000000000001"'
        )
    return _read_sent_id(value)


def _write_id(value: int) -> str:
    return str(value)


_AS_STRING = PlainSerializer(_write_id, return_type=str, when_used="json")

Id = Annotated[int, BeforeValidator(_read_id), _AS_STRING, WithJsonSchema(ID_JSON_SCHEMA)]
"""An id the service emits: an ``int`` in Python, a string of digits in JSON (R30)."""

DbId = Annotated[int, BeforeValidator(_read_client_id), _AS_STRING, WithJsonSchema(ID_JSON_SCHEMA)]
"""An id a client sends (API bodies and parameters, reference data): a string of digits
the store can hold; a JSON number only up to 2^53 (R30)."""


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


def ids_as_strings(value: Any) -> Any:
    """A JSON document (an audit change's details, a scope) with every id written as
    ``Id`` writes it: the value of a key ``id`` or ``…_id`` that is a number becomes a
    string of digits, and so do the numbers in a ``…_ids`` list (R30). Counts, sequence
    numbers and other numbers stay numbers. For documents without a model; a model
    types its ids as ``Id``."""
    if isinstance(value, list):
        return [ids_as_strings(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if _is_number(item) and (key == "id" or key.endswith("_id")):
            out[key] = str(item)
        elif isinstance(item, list) and key.endswith("_ids"):
            out[key] = [str(v) if _is_number(v) else ids_as_strings(v) for v in item]
        else:
            out[key] = ids_as_strings(item)
    return out


def _is_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
