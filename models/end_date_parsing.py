"""End dates (R23) as people type and read them. Pure: the CLI, pages and store share it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from models.errors import ErrorCode, Refusal


def end_date_problem(raw: str) -> str | None:
    """Why ``raw`` is not an end date, or None if it is one."""
    try:
        parse_end_date(raw)
    except Refusal as refusal:
        return refusal.message
    return None


def parse_end_date(raw: str) -> datetime:
    """``YYYY-MM-DD`` means access lasts through that day (UTC): it ends at the next
    midnight UTC. An ISO date-time with an offset is taken as the exact moment."""
    text = raw.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise Refusal(
            ErrorCode.INVALID_INPUT,
            f"{raw!r} is not a date: use YYYY-MM-DD (access lasts through that day, UTC) "
            "or an ISO date-time with its offset (2027-01-31T18:00+01:00).",
            field="until",
        )
    return moment.astimezone(UTC)


def shown(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
