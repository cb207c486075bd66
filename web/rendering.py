"""Pages from jinja2 templates in templates/web: autoescaped, StrictUndefined, no JS."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "web"
STATIC = Path(__file__).resolve().parent / "static"

# Every page: nothing external, no scripts, never framed, and the token in the URL is
# never sent on as a Referer.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def when(value: datetime | None) -> str:
    """'25 Nov 2026, 14:05 UTC': unambiguous for sellers in any timezone."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")


def counted(count: int, one: str, many: str) -> str:
    """'1 campaign stops', '3 campaigns stop', '0 campaigns stop': the number with the words
    that agree with it. Pages leave out a line whose count is 0."""
    return f"{count} {one if count == 1 else many}"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["counted"] = counted
    return env


def page(
    template: str,
    status_code: int = 200,
    *,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    html = environment().get_template(template).render(**context)
    return HTMLResponse(
        html, status_code=status_code, headers={**SECURITY_HEADERS, **(headers or {})}
    )


def error_page(status_code: int, title: str, message: str, *, hint: str = "") -> HTMLResponse:
    return page("error.html", status_code, title=title, message=message, hint=hint)
