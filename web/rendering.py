"""Pages from jinja2 templates in templates/web: autoescaped, StrictUndefined, no JS."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from models import i18n
from models.errors import Refusal
from models.wording import N_, wording
from web import locale

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


def when(value: datetime | None, timezone: str | None = None) -> str:
    """'25 Nov 2026, 14:05 UTC' in the page's language, in ``timezone``, else the page's
    (the approving BC's or the shop's, when the page knows them), else UTC (R28)."""
    return i18n.when(value, locale.current(), timezone or locale.timezone())


def counted(count: int, one: str, many: str) -> str:
    """'1 campaign stops', '3 campaigns stop', '0 campaigns stop': the number with the words
    that agree with it. Pages leave out a line whose count is 0. English only:
    translated pages use ngettext in the template instead."""
    return f"{count} {one if count == 1 else many}"


def translated(value: str) -> str:
    """English marked with N_ in Python (a label, an error page's title) in the page's
    language. Returns plain text, so autoescape still applies: never Markup."""
    return i18n.gettext(locale.current(), str(value))


@cache
def environment(language: str = i18n.DEFAULT) -> Environment:
    """One environment per language: the catalogue is bound at build, so renders in
    different languages never share a gettext (pages render in worker threads)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
        auto_reload=False,  # shipped with the code, as the e-mails' (activities/emails.py)
    )
    # Whitespace inside {% trans %} collapses: translators see one line per sentence.
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(i18n.translations(language), newstyle=True)  # type: ignore[attr-defined]
    # The page's language for <html lang> and the switcher; ``here`` is per request.
    env.globals.update(lang=i18n.tag(language), language=language, languages=i18n.KNOWN, here="/")
    env.filters["when"] = when
    env.filters["counted"] = counted
    env.filters["t"] = translated
    env.filters["number"] = lambda value: i18n.number(value, locale.current())
    env.filters["listing"] = lambda items, style="standard": i18n.listing(
        items, locale.current(), style
    )
    return env


def page(
    template: str,
    status_code: int = 200,
    *,
    headers: dict[str, str] | None = None,
    here: str | None = None,
    **context: Any,
) -> HTMLResponse:
    language = locale.current()
    where = here if here is not None else locale.here()
    html = environment(language).get_template(template).render(here=where, **context)
    return HTMLResponse(
        html, status_code=status_code, headers={**SECURITY_HEADERS, **(headers or {})}
    )


def error_page(status_code: int, title: str, message: str, *, hint: str = "") -> HTMLResponse:
    # The switcher comes back home, not to the refused address: an error page must be the
    # same whatever was asked (R13: an altered link learns nothing), and a token in the
    # address stays out of the page.
    return page("error.html", status_code, title=title, message=message, hint=hint, here="/")


# Refusal details that carry a code (a BC's type, a relationship, a shop permission): a
# page shows the reader's words for them; the CLI and the ops API keep the code (R28).
CODE_WORDS: dict[str, dict[str, str]] = {
    # Translators: a Business Center's type, in "is a direct Business Center".
    "bc_type": {"direct": N_("direct"), "agency": N_("agency"), "regular": N_("regular")},
    "relationship": {"owner": N_("owner"), "partner": N_("partner")},
    "permission": {"ad_promotion": N_("Ad promotion"), "manager": N_("Manager")},
    "held": {"ad_promotion": N_("Ad promotion"), "manager": N_("Manager")},
}


def said(refusal: Refusal) -> str:
    """A refusal's sentence in the page's language (R28), its coded details in words; its
    code stays the same."""
    language = locale.current()
    details = {
        name: i18n.gettext(language, CODE_WORDS[name][str(value)])
        if name in CODE_WORDS and str(value) in CODE_WORDS[name]
        else value
        for name, value in refusal.details.items()
    }
    return wording(refusal.code, details, fallback=refusal.message, locale=language, page=True)


# Words the store hands pages and e-mails as data (a role, a permission) and templates
# show through |t (underscores as spaces): marked here so the catalogue has them.
# Translators: roles on a TikTok Shop's team, a Business Center's relationship to a shop,
# and permissions on a shop, as Seller Center and Business Center name them.
DATA_WORDS = (
    N_("owner"),
    N_("partner"),
    N_("main admin"),
    N_("ad manager"),
    N_("Ad promotion"),
    N_("Manager"),
    N_("admin"),
    N_("standard"),
    # Translators: permissions in an ad account.
    N_("operator"),
    N_("analyst"),
)
