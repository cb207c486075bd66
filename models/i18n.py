"""The reader's language (R28): the known locales, one negotiation, the catalogues and
Babel's formatting. Pages (web/rendering.py) and e-mails (activities/emails.py) use it;
the ops CLI and API never do, so they stay English with stable codes.

Catalogues are the gettext ``.po`` files under ``locale/`` (docs/i18n.md). They are
compiled in memory when first used, so a fresh clone, the tests and ``scripts/quickstart``
need no build step and no ``.mo`` can go stale (docs/decisions.md, "Catalogues compiled
in memory").
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date, format_time, get_timezone_name
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from models.wording import N_

__all__ = ["N_"]  # re-exported: web/ and activities/ mark their English with it

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"

DEFAULT = "en"
# The shipped languages, each named in its own language for the switcher (R28).
KNOWN: dict[str, str] = {
    "en": "English",
    "id": "Bahasa Indonesia",
    "ms": "Bahasa Melayu",
    "th": "ไทย",
    "vi": "Tiếng Việt",
    "zh_Hans": "简体中文",
}
# A shop's market (its location) or a BC's country -> its language (R28).
MARKET: dict[str, str] = {
    "TH": "th",
    "VN": "vi",
    "ID": "id",
    "MY": "ms",
    "CN": "zh_Hans",
    "GB": "en",
    "US": "en",
    "SG": "en",
    "PH": "en",
}
# BCP 47 tags for <html lang> and Content-Language ("zh-Hans", not "zh_Hans").
_TAGS = {"zh_Hans": "zh-Hans"}

# Test-only catalogues (the pseudo-locale of tests/test_i18n_pseudo.py) registered at run
# time; never shipped, never offered by the switcher.
_EXTRA: dict[str, NullTranslations] = {}


def tag(locale: str) -> str:
    """The BCP 47 language tag of ``locale``."""
    return _TAGS.get(locale, locale.replace("_", "-"))


def is_known(locale: str | None) -> bool:
    return locale is not None and (locale in KNOWN or locale in _EXTRA)


def for_market(market: str | None) -> str | None:
    """The language of a shop's market or a BC's country; None for cross-border shops and
    countries with no shipped language."""
    return MARKET.get((market or "").upper())


def _parse_accept_language(header: str) -> list[str]:
    """The tags of an Accept-Language header, best first (q=0 dropped, order kept on ties)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        piece = part.strip()
        if not piece:
            continue
        name, _, params = piece.partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, index, name.strip()))
    return [name for _q, _i, name in sorted(ranked)]


def best_match(header: str | None) -> str | None:
    """The shipped language the browser prefers most, if any. Chinese counts as Simplified
    unless the browser names Traditional (zh-Hant, zh-TW, zh-HK, zh-MO)."""
    for name in _parse_accept_language(header or ""):
        parts = name.replace("_", "-").lower().split("-")
        language = parts[0]
        if language == "zh":
            if any(p in ("hant", "tw", "hk", "mo") for p in parts[1:]):
                continue
            return "zh_Hans"
        if language in KNOWN:
            return language
        if language in ("in",):  # the old ISO code of Indonesian, still sent by some
            return "id"
    return None


def negotiate(
    *,
    saved: str | None = None,
    accept_language: str | None = None,
    market: str | None = None,
) -> str:
    """R28, in one place: the reader's saved choice (their stored preference, or the
    cookie of an anonymous visitor), else the browser's Accept-Language, else the shop's
    market or the BC's country, else English."""
    if is_known(saved):
        assert saved is not None
        return saved
    return best_match(accept_language) or for_market(market) or DEFAULT


def _compiled(path: Path) -> Translations:
    with path.open("rb") as po:
        catalog = read_po(po, locale=path.parent.parent.name, domain=DOMAIN)
    buffer = io.BytesIO()
    # Fuzzy entries are not shown: a translator has not confirmed them yet.
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@cache
def _shipped(locale: str) -> NullTranslations:
    path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == DEFAULT or not path.exists():
        return NullTranslations()
    return _compiled(path)


def translations(locale: str) -> NullTranslations:
    """The catalogue of ``locale``; an empty msgstr falls back to the English source."""
    if locale in _EXTRA:
        return _EXTRA[locale]
    return _shipped(locale if locale in KNOWN else DEFAULT)


def register(locale: str, catalogue: NullTranslations) -> None:
    """Tests only: make ``locale`` (a pseudo-locale) renderable."""
    _EXTRA[locale] = catalogue


def unregister(locale: str) -> None:
    _EXTRA.pop(locale, None)


def gettext(locale: str, message: str) -> str:
    return translations(locale).gettext(message)


def pgettext(locale: str, context: str, message: str) -> str:
    return str(translations(locale).pgettext(context, message))


# --- Babel's formatting ----------------------------------------------------------------

# English is formatted the British way (25 Nov 2026, 14:05): day first reads the same in
# every market English serves (GB, SG, PH), and US readers cannot misread a month name.
_FORMAT_LOCALE = {"en": "en_GB"}


def format_locale(locale: str) -> Locale:
    if locale in _EXTRA:
        locale = DEFAULT
    return Locale.parse(_FORMAT_LOCALE.get(locale, locale))


def zone(name: str | None) -> tzinfo:
    """The timezone named ``name`` (a BC's IANA timezone); UTC when unnamed or unknown."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def when(value: datetime | None, locale: str, timezone: str | None = None) -> str:
    """A moment in ``timezone`` (the approving BC's or the shop's; UTC if none), with the
    zone named as the locale names it: '25 Nov 2026, 14:05 UTC',
    '25 พ.ย. 2569 21:05 เวลาอินโดจีน'."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    tz = zone(timezone)
    local = value.astimezone(tz)
    fmt = format_locale(locale)
    # The locale's own medium date and short time, joined as the locale joins them.
    joined = str(fmt.datetime_formats["medium"])
    shown = joined.replace("{1}", format_date(local, "medium", locale=fmt)).replace(
        "{0}", format_time(local, "short", locale=fmt)
    )
    name = get_timezone_name(local, width="short" if tz is UTC else "long", locale=fmt)
    return f"{shown} {name}"


def number(value: float | int, locale: str) -> str:
    return format_decimal(value, locale=format_locale(locale))


def listing(items: Iterable[str], locale: str, style: str = "standard") -> str:
    """'a, b and c' as the locale joins a list ('standard': and; 'or': or)."""
    values: Sequence[str] = [str(item) for item in items]
    if not values:
        return ""
    return format_list(values, style=style, locale=format_locale(locale))  # type: ignore[arg-type]
