"""E-mail builders: one function per e-mail, each returning subject, text and HTML.

jinja2 with autoescape on the HTML templates and StrictUndefined everywhere, so a missing
value fails loudly in tests instead of mailing a blank. Stored text reaches a template on
one line (``one_line``): a name holding a line break cannot fake lines of the text part.

R28: each builder takes the recipient's ``locale`` (models/i18n.py; the mail activities
pick it: their saved choice, else the shop's market or the BC's country) and renders with
that catalogue through jinja2's i18n extension; the subject is a catalogue message too.
``switch_url`` is the page where they change their language, on one line of every e-mail.
End dates come in as moments and are written here, in the recipient's language and the
BC's ``timezone`` (Babel, ``models.i18n.when``): a date is wording, so it is made at the edge.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from activities.delivery import RenderedEmail
from models import i18n
from models.i18n import N_

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"


def strong(value: Any) -> Markup:
    """``value`` escaped and in bold: HTML parts put the emphasis on a placeholder, so the
    text and HTML parts share one message."""
    return Markup("<strong>%s</strong>") % escape(value)


@cache
def environment(locale: str = i18n.DEFAULT) -> Environment:
    """One environment per language, its catalogue bound at build (R28)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
        # The templates ship with the code: no stat of the file on every render (the
        # check showed in the worker's profile); a process renders what it started with.
        auto_reload=False,
    )
    # Whitespace inside {% trans %} collapses: one message per sentence, shared by the
    # text and HTML parts.
    env.policies["ext.i18n.trimmed"] = True
    catalogue = i18n.translations(locale)
    env.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
    # English marked with N_ elsewhere (a label, "the shop's team"), shown translated.
    env.filters["t"] = lambda value: catalogue.gettext(str(value))
    env.filters["strong"] = strong
    return env


_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(value: Any) -> Any:
    """``value`` with every control character and line separator in its text (tuples and
    lists included) turned into a space; other values unchanged."""
    if isinstance(value, str):
        return value if value.isprintable() else _LINE_BREAKING.sub(" ", value)
    if isinstance(value, tuple | list):
        return type(value)(one_line(item) for item in value)
    return value


def subject_in(locale: str, message: str, **values: Any) -> str:
    """A subject line from the catalogue, in ``locale``, its values on one line."""
    return i18n.gettext(locale, message) % {k: one_line(v) for k, v in values.items()}


def render(
    name: str, subject: str, *, locale: str = i18n.DEFAULT, switch_url: str = "", **context: Any
) -> RenderedEmail:
    env = environment(locale)
    context = {key: one_line(value) for key, value in context.items()}
    context.update(lang=i18n.tag(locale), switch_url=one_line(switch_url))
    return RenderedEmail(
        subject=subject,
        text=env.get_template(f"{name}.txt").render(**context),
        html=env.get_template(f"{name}.html").render(**context),
        language=i18n.tag(locale),
    )


def approval_request(
    *,
    recipient_name: str,
    bc_name: str,
    bc_id: int,
    requester: str,
    shop_name: str,
    shop_code: str,
    method_label: str,
    permission_label: str,
    link: str,
    resend: bool,
    locale: str = i18n.DEFAULT,
    switch_url: str = "",
) -> RenderedEmail:
    """R7/R8: to each shop team member, with their personal approval link."""
    subject = (
        N_("Reminder: %(bc_name)s asks for access to your TikTok Shop %(shop_name)s")
        if resend
        else N_("%(bc_name)s asks for access to your TikTok Shop %(shop_name)s")
    )
    return render(
        "approval_request",
        subject_in(locale, subject, bc_name=bc_name, shop_name=shop_name),
        **{k: v for k, v in locals().items() if k != "subject"},
    )


def personal_link(
    *,
    recipient_name: str,
    bc_name: str,
    bc_id: int,
    requester: str,
    shop_name: str,
    shop_code: str,
    method_label: str,
    permission_label: str,
    link: str,
    locale: str = i18n.DEFAULT,
    switch_url: str = "",
) -> RenderedEmail:
    """R7/R13: the personal link a shop team member asked for from a copied link."""
    return render(
        "personal_link",
        subject_in(
            locale,
            N_("Your link to review %(bc_name)s's request for %(shop_name)s"),
            bc_name=bc_name,
            shop_name=shop_name,
        ),
        **locals(),
    )


def request_approved(
    *,
    recipient_name: str,
    bc_name: str,
    bc_id: int,
    shop_name: str,
    shop_code: str,
    method_label: str,
    relationship: str,
    permission_label: str,
    approved_by: str,
    locale: str = i18n.DEFAULT,
    switch_url: str = "",
) -> RenderedEmail:
    """R14: to the requester, once the shop approved."""
    return render(
        "request_approved",
        subject_in(
            locale,
            N_("Approved: %(bc_name)s now has access to %(shop_name)s"),
            bc_name=bc_name,
            shop_name=shop_name,
        ),
        **locals(),
    )


def request_declined(
    *,
    recipient_name: str,
    bc_name: str,
    bc_id: int,
    shop_name: str,
    shop_code: str,
    method_label: str,
    declined_by: str,
    reason: str | None,
    locale: str = i18n.DEFAULT,
    switch_url: str = "",
) -> RenderedEmail:
    """R22: to the requester, once the shop's team declined, with their reason if any."""
    return render(
        "request_declined",
        subject_in(
            locale,
            N_("Declined: %(shop_name)s did not give %(bc_name)s access"),
            bc_name=bc_name,
            shop_name=shop_name,
        ),
        **locals(),
    )


def request_reminder(
    *,
    recipient_name: str,
    bc_name: str,
    bc_id: int,
    requester: str,
    shop_name: str,
    shop_code: str,
    method_label: str,
    permission_label: str,
    link: str,
    waited_days: int,
    locale: str = i18n.DEFAULT,
    switch_url: str = "",
) -> RenderedEmail:
    """R25: to each shop team member while a request waits, with their personal link."""
    return render(
        "request_reminder",
        subject_in(
            locale,
            N_("Reminder: %(bc_name)s is still waiting for access to %(shop_name)s"),
            bc_name=bc_name,
            shop_name=shop_name,
        ),
        **locals(),
    )


# --- partner side (R16, R17, R19) -------------------------------------------------------


def member_invitation(
    *,
    bc_name: str,
    bc_id: int,
    invited_by: str,
    role: str,
    ad_accounts: list[tuple[str, int, str]],
    link: str,
    locale: str = i18n.DEFAULT,
    switch_url: str = "",
) -> RenderedEmail:
    """R16: to the invited address, with its accept link; ad_accounts are (name, id, perm)."""
    return render(
        "member_invitation",
        subject_in(
            locale,
            N_("%(invited_by)s invites you to join %(bc_name)s on Business Center"),
            invited_by=invited_by,
            bc_name=bc_name,
        ),
        **locals(),
    )


def partner_invitation(
    *,
    recipient_name: str,
    bc_name: str,
    bc_id: int,
    partner_bc_name: str,
    partner_bc_id: int,
    invited_by: str,
    shops: list[tuple[str, str, str, datetime | None]],
    link: str,
    timezone: str | None = None,
    locale: str = i18n.DEFAULT,
    switch_url: str = "",
) -> RenderedEmail:
    """R17: to each admin of the invited BC; shops are (name, code, permission, when the
    share ends once accepted or None, R23), the end shown in ``timezone`` (the invited BC's)."""
    return render(
        "partner_invitation",
        subject_in(
            locale,
            N_("%(bc_name)s invites %(partner_bc_name)s to be its partner"),
            bc_name=bc_name,
            partner_bc_name=partner_bc_name,
        ),
        **{
            **locals(),
            "shops": [
                (name, code, permission, i18n.when(ends, locale, timezone) if ends else None)
                for name, code, permission, ends in shops
            ],
        },
    )


def access_removed(
    *,
    recipient_name: str,
    bc_name: str,
    bc_id: int,
    shop_name: str,
    shop_code: str,
    removed_by: str,
    direct: bool,
    locale: str = i18n.DEFAULT,
    switch_url: str = "",
) -> RenderedEmail:
    """R19: to each admin of a BC that lost the shop (the partner, and partners downstream)."""
    return render(
        "access_removed",
        subject_in(
            locale,
            N_("Access removed: %(bc_name)s no longer has access to %(shop_name)s"),
            bc_name=bc_name,
            shop_name=shop_name,
        ),
        **locals(),
    )


def access_ending(
    *,
    recipient_name: str,
    bc_name: str,
    bc_id: int,
    shop_name: str,
    shop_code: str,
    ends_at: datetime,
    timezone: str | None = None,
    locale: str = i18n.DEFAULT,
    switch_url: str = "",
) -> RenderedEmail:
    """R23: three days before a grant's end date, to each admin of the BC holding it; the
    date in ``timezone`` (that BC's)."""
    shown = i18n.when(ends_at, locale, timezone)
    return render(
        "access_ending",
        subject_in(
            locale,
            N_("Reminder: %(bc_name)s's access to %(shop_name)s ends on %(ends_at)s"),
            bc_name=bc_name,
            shop_name=shop_name,
            ends_at=shown,
        ),
        **{**locals(), "ends_at": shown},
    )


def assignment_ending(
    *,
    recipient_name: str,
    bc_name: str,
    bc_id: int,
    shop_name: str,
    shop_code: str,
    permission_label: str,
    ends_at: datetime,
    admins: list[tuple[str, str]],
    timezone: str | None = None,
    locale: str = i18n.DEFAULT,
    switch_url: str = "",
) -> RenderedEmail:
    """R23: three days before a member assignment's end date, to the member holding it;
    ``admins`` are the BC's admins (name, address), who can change or clear the date; the
    date in ``timezone`` (the BC's)."""
    shown = i18n.when(ends_at, locale, timezone)
    return render(
        "assignment_ending",
        subject_in(
            locale,
            N_(
                "Reminder: your permission on the shop %(shop_name)s in %(bc_name)s ends "
                "on %(ends_at)s"
            ),
            shop_name=shop_name,
            bc_name=bc_name,
            ends_at=shown,
        ),
        **{**locals(), "ends_at": shown},
    )
