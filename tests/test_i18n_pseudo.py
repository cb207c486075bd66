"""R28: every e-mail, rendered in the pseudo-locale (tests/pseudo_locale.py), shows no
English that did not come through the catalogue, in its subject, text and HTML parts, and
says which language it is in (Content-Language, <html lang>)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from activities import emails
from activities.delivery import RenderedEmail, build_message
from activities.mailer import PARTNER_LABELS, PERMISSION_LABELS, SHOP_TEAM, permission_label
from models import i18n
from models.enums import Permission, RequestMethod
from tests.pseudo_locale import bare_english, pseudo_locale, visible_text

SWITCH = "http://127.0.0.1:8000/language"
# Data a template shows as it is: distinctive, so cutting it out can hide no English.
BC = "Qzv Media"
PARTNER = "Wyx Partners"
SHOP = "Jkq Store"
CODE = "JKQ1"
PERSON = "Ana Qzv"
ADDRESS = "ana@qzv.example"
LINK = "http://127.0.0.1:8000/approve/Tok3n"
ENDS = datetime(2026, 12, 24, tzinfo=UTC)
# The end date as the pseudo-locale formats it (English CLDR data): data, not wording.
DATA = [BC, PARTNER, SHOP, CODE, PERSON, ADDRESS, LINK, SWITCH, i18n.when(ENDS, i18n.DEFAULT),
        "Bo Qzv", "bo@qzv.example", "Qzv Ads", "We do not work with Qzv"]  # fmt: skip

REQUEST: dict[str, Any] = {
    "recipient_name": PERSON, "bc_name": BC, "bc_id": 7001, "requester": ADDRESS,
    "shop_name": SHOP, "shop_code": CODE, "method_label": RequestMethod.REQUEST_ACCESS.label,
    "permission_label": permission_label(RequestMethod.REQUEST_ACCESS), "link": LINK,
}  # fmt: skip
OWNER_REQUEST = {
    **REQUEST,
    "method_label": RequestMethod.ADD_MY_SHOP.label,
    "permission_label": permission_label(RequestMethod.ADD_MY_SHOP),
}
SHOP_OF_BC: dict[str, Any] = {
    "recipient_name": PERSON, "bc_name": BC, "bc_id": 7001, "shop_name": SHOP, "shop_code": CODE,
}  # fmt: skip
# Every builder, and each branch of its wording: (builder, its arguments).
CASES: dict[str, tuple[Callable[..., RenderedEmail], dict[str, Any]]] = {
    "approval_request": (emails.approval_request, {**REQUEST, "resend": False}),
    "approval_resent": (emails.approval_request, {**REQUEST, "resend": True}),
    "approval_owner": (emails.approval_request, {**OWNER_REQUEST, "resend": False}),
    "personal_link": (emails.personal_link, REQUEST),
    "request_reminder_one": (emails.request_reminder, {**REQUEST, "waited_days": 1}),
    "request_reminder_many": (emails.request_reminder, {**REQUEST, "waited_days": 5}),
    "request_approved": (emails.request_approved, {
        **SHOP_OF_BC, "method_label": RequestMethod.ADD_MY_SHOP.label, "relationship": "partner",
        "permission_label": PERMISSION_LABELS[Permission.MANAGER], "approved_by": SHOP_TEAM,
    }),
    "request_declined": (emails.request_declined, {
        **SHOP_OF_BC, "method_label": RequestMethod.REQUEST_ACCESS.label,
        "declined_by": SHOP_TEAM, "reason": "We do not work with Qzv",
    }),
    "member_invitation": (emails.member_invitation, {
        "bc_name": BC, "bc_id": 7001, "invited_by": ADDRESS, "role": "admin",
        "ad_accounts": [("Qzv Ads", 9001, "operator")], "link": LINK,
    }),
    "partner_invitation": (emails.partner_invitation, {
        "recipient_name": PERSON, "bc_name": BC, "bc_id": 7001, "partner_bc_name": PARTNER,
        "partner_bc_id": 7002, "invited_by": ADDRESS, "link": LINK,
        "shops": [(SHOP, CODE, "ad_promotion", None), (SHOP, CODE, "manager", ENDS)],
    }),
    "access_removed_direct": (emails.access_removed, {
        **SHOP_OF_BC, "removed_by": ADDRESS, "direct": True,
    }),
    "access_removed_downstream": (emails.access_removed, {
        **SHOP_OF_BC, "removed_by": ADDRESS, "direct": False,
    }),
    "access_ending": (emails.access_ending, {**SHOP_OF_BC, "ends_at": ENDS}),
    "assignment_ending": (emails.assignment_ending, {
        **SHOP_OF_BC, "permission_label": PERMISSION_LABELS[Permission.AD_PROMOTION],
        "ends_at": ENDS, "admins": [("Bo Qzv", "bo@qzv.example")],
    }),
    "assignment_ending_no_admin": (emails.assignment_ending, {
        **SHOP_OF_BC, "permission_label": PERMISSION_LABELS[Permission.MANAGER],
        "ends_at": ENDS, "admins": [],
    }),
}  # fmt: skip


def build(name: str, **extra: Any) -> RenderedEmail:
    builder, arguments = CASES[name]
    return builder(**arguments, **extra)


@pytest.fixture()
def xa() -> Iterator[str]:
    with pseudo_locale() as locale:
        yield locale


@pytest.mark.parametrize("name", sorted(CASES))
def test_r28_every_email_is_all_catalogue_in_the_pseudo_locale(name: str, xa: str) -> None:
    rendered = build(name, locale=xa, switch_url=SWITCH)
    for part, text in (
        ("subject", rendered.subject),
        ("text", rendered.text),
        ("html", visible_text(rendered.html)),
    ):
        assert "⟦" in text, f"{name} {part}: nothing was translated"
        assert bare_english(text, DATA) == [], f"{name} {part} has untranslated words"
    # The one-line switch link is in both parts; the HTML says its language.
    assert SWITCH in rendered.text and f'href="{SWITCH}"' in rendered.html
    assert '<html lang="en-XA">' in rendered.html
    assert rendered.language == "en-XA"


def test_r28_pseudo_check_catches_a_bare_english_word() -> None:
    """The check itself can fail: an English word outside the catalogue is reported, and
    the data it is told about is not."""
    assert bare_english("⟦Ĥéľľó⟧ Qzv Media Reminder", [BC]) == ["Reminder"]
    assert bare_english("⟦Ĥéľľó ⟦ĥí⟧ partner Qzv Media⟧ ·", [BC]) == ["partner"]
    assert bare_english("⟦Ĥéľľó ⟦ĥí⟧ Qzv Media⟧ ·", [BC]) == []


def test_r28_email_carries_its_language_in_english_and_thai() -> None:
    """Content-Language on the message; without a translation the words stay English."""
    english = build("access_ending", switch_url=SWITCH)
    assert english.language == "en" and '<html lang="en">' in english.html
    thai = build("access_ending", locale="th", switch_url=SWITCH)
    message = build_message(key="k", sender="a@b.example", to=ADDRESS, email=thai)
    assert message["Content-Language"] == "th"
    assert '<html lang="th">' in thai.html


def test_r28_labels_are_catalogue_messages() -> None:
    """The labels the mail activities hand templates are English catalogue ids, which the
    pseudo-locale translates (so a label outside the catalogue would show bare)."""
    with pseudo_locale() as xa:
        from models import i18n

        for label in [*PERMISSION_LABELS.values(), *PARTNER_LABELS.values(), SHOP_TEAM]:
            assert i18n.gettext(xa, label).startswith("⟦"), label
