"""The pseudo-locale ``en_XA`` (R28), built from locale/messages.pot at test time and never
shipped: every message wrapped in ⟦ ⟧, its letters accented and lengthened by a third, its
placeholders and markup kept. A page or e-mail rendered in it shows each catalogue string
wrapped, so any English left bare is a string that never went through the catalogue.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from html.parser import HTMLParser

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from models import i18n

PSEUDO = "en_XA"
_ACCENTED = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "áƀçðéƒĝĥíĵķľɱñóƥɋŕšťúṽŵẋýžÁƁÇÐÉƑĜĤÍĴĶĽṀÑÓƤɊŔŠŤÚṼŴẊÝŽ",
)
# What must survive translation untouched: printf and brace placeholders, tags, entities.
_KEEP = re.compile(r"%\([a-z_]+\)s|%%|\{[a-z_]+(?:![rs])?\}|<[^>]*>|&[a-z]+;|&#\d+;")


def pseudo(text: str) -> str:
    """'Hello %(name)s,' -> '⟦Ĥéľľó %(name)s,~~~~⟧'."""
    out, last = [], 0
    for match in _KEEP.finditer(text):
        out.append(text[last : match.start()].translate(_ACCENTED))
        out.append(match.group())
        last = match.end()
    out.append(text[last:].translate(_ACCENTED))
    return "⟦" + "".join(out) + "~" * (len(text) // 3) + "⟧"


def catalogue() -> Translations:
    with open(i18n.LOCALE_DIR / "messages.pot", "rb") as pot:
        template = read_po(pot)
    built = Catalog(locale="en", domain=i18n.DOMAIN)
    for message in template:
        if not message.id:
            continue
        if isinstance(message.id, tuple | list):
            built.add(
                tuple(message.id),
                tuple(pseudo(form) for form in message.id),
                context=message.context,
            )
        else:
            built.add(message.id, pseudo(message.id), context=message.context)
    buffer = io.BytesIO()
    write_mo(buffer, built)
    buffer.seek(0)
    return Translations(buffer, domain=i18n.DOMAIN)


@contextmanager
def pseudo_locale() -> Iterator[str]:
    i18n.register(PSEUDO, catalogue())
    try:
        yield PSEUDO
    finally:
        i18n.unregister(PSEUDO)


class _Visible(HTMLParser):
    """The text a reader sees or hears: text nodes outside <style>/<script>, and the
    attributes that are shown or read out."""

    SHOWN_ATTRIBUTES = ("placeholder", "title", "alt", "aria-label", "data-label")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self._hidden += 1
        for name, value in attrs:
            if name in self.SHOWN_ATTRIBUTES and value:
                self.parts.append(f" {value} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return "".join(parser.parts)


def bare_english(text: str, data: Iterable[str]) -> list[str]:
    """The words in ``text`` that came from no catalogue message and are no data value.
    The pseudo-locale accents every letter it translates, so once each data value is cut
    out, any plain Latin letter left, even inside a translated sentence, is English that
    never went through the catalogue."""
    for value in sorted({str(v) for v in data if str(v)}, key=len, reverse=True):
        text = text.replace(value, " ")
    return re.findall(r"[A-Za-z][A-Za-z']*", text)
