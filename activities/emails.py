"""E-mail builders: one function per e-mail, each returning subject, text and HTML.

jinja2 with autoescape on the HTML templates and StrictUndefined everywhere, so a missing
value fails loudly in tests instead of mailing a blank. Stored text reaches a template on
one line (``one_line``): a name holding a line break cannot fake lines of the text part.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from activities.delivery import RenderedEmail

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"


@cache
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(value: Any) -> Any:
    """``value`` with every control character and line separator in its text (tuples and
    lists included) turned into a space; other values unchanged."""
    if isinstance(value, str):
        return value if value.isprintable() else _LINE_BREAKING.sub(" ", value)
    if isinstance(value, tuple | list):
        return type(value)(one_line(item) for item in value)
    return value


def render(name: str, subject: str, **context: Any) -> RenderedEmail:
    env = environment()
    context = {key: one_line(value) for key, value in context.items()}
    return RenderedEmail(
        subject=subject,
        text=env.get_template(f"{name}.txt").render(**context),
        html=env.get_template(f"{name}.html").render(**context),
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
) -> RenderedEmail:
    """R7/R8: to each shop team member, with their personal approval link."""
    prefix = "Reminder: " if resend else ""
    return render(
        "approval_request",
        f"{prefix}{bc_name} asks for access to your TikTok Shop {shop_name}",
        **{k: v for k, v in locals().items() if k != "prefix"},
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
) -> RenderedEmail:
    """R7/R13: the personal link a shop team member asked for from a copied link."""
    return render(
        "personal_link",
        f"Your link to review {bc_name}'s request for {shop_name}",
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
) -> RenderedEmail:
    """R14: to the requester, once the shop approved."""
    return render(
        "request_approved",
        f"Approved: {bc_name} now has access to {shop_name}",
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
) -> RenderedEmail:
    """R22: to the requester, once the shop's team declined, with their reason if any."""
    return render(
        "request_declined",
        f"Declined: {shop_name} did not give {bc_name} access",
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
) -> RenderedEmail:
    """R25: to each shop team member while a request waits, with their personal link."""
    return render(
        "request_reminder",
        f"Reminder: {bc_name} is still waiting for access to {shop_name}",
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
) -> RenderedEmail:
    """R16: to the invited address, with its accept link; ad_accounts are (name, id, perm)."""
    return render(
        "member_invitation",
        f"{invited_by} invites you to join {bc_name} on Business Center",
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
    shops: list[tuple[str, str, str, str | None]],
    link: str,
) -> RenderedEmail:
    """R17: to each admin of the invited BC; shops are (name, code, permission, when the
    share ends once accepted or None, R23)."""
    return render(
        "partner_invitation",
        f"{bc_name} invites {partner_bc_name} to be its partner",
        **locals(),
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
) -> RenderedEmail:
    """R19: to each admin of a BC that lost the shop (the partner, and partners downstream)."""
    return render(
        "access_removed",
        f"Access removed: {bc_name} no longer has access to {shop_name}",
        **locals(),
    )


def access_ending(
    *,
    recipient_name: str,
    bc_name: str,
    bc_id: int,
    shop_name: str,
    shop_code: str,
    ends_at: str,
) -> RenderedEmail:
    """R23: three days before a grant's end date, to each admin of the BC holding it."""
    return render(
        "access_ending",
        f"Reminder: {bc_name}'s access to {shop_name} ends on {ends_at}",
        **locals(),
    )


def assignment_ending(
    *,
    recipient_name: str,
    bc_name: str,
    bc_id: int,
    shop_name: str,
    shop_code: str,
    permission_label: str,
    ends_at: str,
    admins: list[tuple[str, str]],
) -> RenderedEmail:
    """R23: three days before a member assignment's end date, to the member holding it;
    ``admins`` are the BC's admins (name, address), who can change or clear the date."""
    return render(
        "assignment_ending",
        f"Reminder: your permission on the shop {shop_name} in {bc_name} ends on {ends_at}",
        **locals(),
    )
