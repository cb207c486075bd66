"""Option types shared by the commands: each refuses a value with the same words as the
service (models/fields.py), before anything is read or started.

Their failures are click's BadParameter, which the CLI reports as ``invalid_input``
(cli/failures.py), never as click's usage text.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import click

from models.end_date_parsing import end_date_problem, parse_end_date
from models.fields import DB_ID_MAX, DB_ID_MIN, display_name_problem

_INTEGER = re.compile(r"[+-]?[0-9]+")


def id_problem(raw: str) -> str | None:
    """Why ``raw`` is not a database id, or None if it is one."""
    if not _INTEGER.fullmatch(raw.strip()):
        return f"{raw!r} is not a number"
    if not DB_ID_MIN <= int(raw) <= DB_ID_MAX:
        return f"{raw.strip()} is out of range: ids are whole numbers from {DB_ID_MIN} to 2^63-1"
    return None


class DbIdType(click.ParamType):
    """A BC, ad account or other numeric id: 1..2^63-1, decimal digits only."""

    name = "ID"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        problem = id_problem(str(value))
        if problem is not None:
            self.fail(problem, param, ctx)
        return int(value)


class DisplayNameType(click.ParamType):
    """A person's or a business's name: no control characters, at most 200 characters."""

    name = "NAME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        problem = display_name_problem(str(value))
        if problem is not None:
            self.fail(f"the name {problem}", param, ctx)
        return str(value).strip()


class EndDateParam(click.ParamType):
    """R23: an end date, YYYY-MM-DD (through that day, UTC) or an ISO date-time with offset."""

    name = "DATE"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        problem = end_date_problem(str(value))
        if problem is not None:
            self.fail(problem, param, ctx)
        return parse_end_date(str(value))


DB_ID = DbIdType()
DISPLAY_NAME = DisplayNameType()
UNTIL = EndDateParam()
