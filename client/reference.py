"""Reference data (users, business centers, shops) for ``starter.py load`` and
``POST /reference-data`` alike: one validation, one refusal naming every problem, one load.

A document with any problem is refused as a whole, before anything is stored; loading the
same document again changes nothing (store/reference.py)."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine

from models.errors import ErrorCode, Refusal
from models.reference import ReferenceData
from store.db import write_session
from store.reference import load_reference

OPS = "ops"
"""The audit trail's actor for the CLI's load, which names no user."""


class LoadedCounts(BaseModel):
    """How many of each the document listed (new or updated alike)."""

    users: int
    business_centers: int
    shops: int


class Loaded(BaseModel):
    """What ``load --json`` prints and the API answers."""

    loaded: LoadedCounts


def parse_reference(raw: str | bytes, source: str) -> ReferenceData:
    """The document, or one ``invalid_input`` refusal naming every problem (in the message
    for people, as ``details.errors`` for scripts). ``source`` names it: a path, the body."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Refusal(
                ErrorCode.INVALID_INPUT,
                f"{source} is not UTF-8 text (reference data is a JSON document).",
            ) from None
    try:
        return ReferenceData.model_validate_json(raw)
    except ValidationError as err:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or "file", "problem": e["msg"]}
            for e in err.errors()
        ]
        problems = "; ".join(f"{e['field']}: {e['problem']}" for e in errors)
        raise Refusal(
            ErrorCode.INVALID_INPUT,
            f"{source} is not valid reference data: {problems}",
            errors=errors,
        ) from None


def load_reference_data(engine: Engine, data: ReferenceData, *, actor: str = OPS) -> Loaded:
    """Store the document in one transaction; ``actor`` is who the audit trail names."""
    with write_session(engine) as session:
        counts = load_reference(session, data, actor=actor)
    return Loaded(
        loaded=LoadedCounts(
            users=counts.users, business_centers=counts.business_centers, shops=counts.shops
        )
    )
