"""The request side's refusal sentences come from one catalogue (models/wording.py).

Two checks: every template renders, from the details its raise sites give, the sentence
people read before the catalogue existed (R1-R13, S1-S4); and every ``Refusal`` raised in
the request-side modules names only its code and details, with a catalogue entry for that
code (and reason) whose fields the site supplies.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from models.errors import ErrorCode, Refusal
from models.wording import CATALOGUE, fields_of, template_for, wording

ROOT = Path(__file__).resolve().parents[1]
REQUEST_SIDE = [
    "store/people.py",
    "store/admission.py",
    "store/request_records.py",
    "store/scenarios.py",
    "store/approval.py",
    "store/grants.py",
    "store/queries.py",
    "store/reference.py",
    "activities/store.py",
    "client/access_requests.py",
]

SENTENCES: list[tuple[ErrorCode, dict[str, Any], str]] = [
    (
        ErrorCode.NOT_BC_ADMIN,
        {"reason": "not_a_member", "email": "lee@x.com", "bc_id": 7, "bc_name": "Agency"},
        "lee@x.com is not a member of Business Center 7 (Agency); only its admins can do this.",
    ),
    (
        ErrorCode.NOT_BC_ADMIN,
        {"reason": "standard_member", "email": "sam@x.com", "bc_id": 7, "bc_name": "Agency"},
        "sam@x.com is a standard member of Business Center 7 (Agency); ask an admin of that "
        "Business Center to make you a co-admin.",
    ),
    (ErrorCode.UNKNOWN_USER, {"email": "a@b.c"}, "No user with the e-mail 'a@b.c' is known."),
    (ErrorCode.UNKNOWN_BC, {"bc_id": 9}, "Business Center 9 does not exist."),
    (
        ErrorCode.UNKNOWN_SHOP_CODE,
        {},
        "No shop can be requested with that code. Check the shop code in Seller Center > "
        "My Account > Seller profile > Seller information.",
    ),
    (
        ErrorCode.BC_NOT_ELIGIBLE,
        {"bc_id": 7, "bc_type": "agency", "country": "FR", "eligible_countries": ["GB", "SG"]},
        "Business Center 7 is a agency Business Center registered in FR; requesting shop "
        "access is available to direct and agency Business Centers registered in GB, SG, "
        "and to regular Business Centers anywhere.",
    ),
    (
        ErrorCode.SHOP_LOCATION_NOT_SUPPORTED,
        {"location": "JP", "supported_locations": ["GB", "SG"]},
        "Shops located in JP cannot be requested from Business Center yet; cross-border "
        "shops and shops in GB, SG can.",
    ),
    (
        ErrorCode.ALREADY_HAS_ACCESS,
        {"bc_id": 7, "shop_code": "SHOP01", "relationship": "partner", "permission": "ads"},
        "Business Center 7 already has access to shop SHOP01 (partner, ads).",
    ),
    (
        ErrorCode.REQUEST_ALREADY_PENDING,
        {"request_id": "req_1", "shop_code": "SHOP01"},
        "A request for shop SHOP01 is already pending approval (req_1); resend it instead "
        "of asking again.",
    ),
    (
        ErrorCode.DAILY_LIMIT_REACHED,
        {
            "bc_id": 7,
            "limit": 20,
            "day": "2026-03-10",
            "timezone": "Asia/Singapore",
            "resets_at": "2026-03-10T16:00:00+00:00",
        },
        "Business Center 7 has made 20 shop access requests today (2026-03-10, "
        "Asia/Singapore); the limit resets at midnight Asia/Singapore, "
        "2026-03-10T16:00:00+00:00.",
    ),
    (ErrorCode.UNKNOWN_REQUEST, {"request_id": "req_x"}, "There is no access request req_x."),
    (
        ErrorCode.REQUEST_NOT_PENDING,
        {"request_id": "req_1", "status": "approved"},
        "Request req_1 is approved; only a pending request can change.",
    ),
    (
        ErrorCode.REQUEST_NOT_PENDING,
        {"reason": "superseded", "request_id": "req_1", "status": "expired", "superseded_by": "r2"},
        "Request req_1 is expired because request r2 was approved first; only a pending "
        "request can change.",
    ),
    (
        ErrorCode.RESEND_TOO_SOON,
        {"retry_after_seconds": 31},
        "The request was resent by e-mail less than a minute ago; try again in 31 seconds, "
        "or copy the link instead.",
    ),
    (
        ErrorCode.NOT_SHOP_TEAM,
        {"email": "x@y.z", "shop_code": "SHOP01"},
        "x@y.z is not on the team of shop SHOP01; only its owner, main admins and ad "
        "managers can approve access.",
    ),
    (
        ErrorCode.INVALID_INPUT,
        {"reason": "s1_bc_given", "shop_code": "SHOP01", "linked_bc_id": 7},
        "Shop SHOP01 is already linked to Business Center 7; approve without choosing or "
        "creating one.",
    ),
    (
        ErrorCode.INVALID_INPUT,
        {"reason": "new_bc_name_missing"},
        "Enter a name (1-200 characters) for your new Business Center.",
    ),
    (
        ErrorCode.INVALID_INPUT,
        {"reason": "timezone_missing"},
        "Pick a timezone for the new Business Center.",
    ),
    (
        ErrorCode.INVALID_INPUT,
        {"reason": "timezone_unknown", "timezone": "Mars/Olympus"},
        "'Mars/Olympus' is not an IANA timezone (e.g. Asia/Singapore).",
    ),
    (
        ErrorCode.INVALID_INPUT,
        {"reason": "s3_new_bc"},
        "You already administer a Business Center; pick one of yours instead of creating a "
        "new one.",
    ),
    (
        ErrorCode.INVALID_INPUT,
        {"reason": "s3_bc_missing", "bc_choices": ["1 (A)", "2 (B)"], "choices": [1, 2]},
        "Pick one of the Business Centers you administer: 1 (A), 2 (B).",
    ),
    (ErrorCode.INVALID_INPUT, {"reason": "email_missing"}, "Enter your e-mail address."),
    (
        ErrorCode.BC_ADMIN_REQUIRED,
        {"reason": "s3_not_admin", "bc_id": 7, "bc_choices": ["1 (A)"], "choices": [1]},
        "You are not an admin of Business Center 7. Pick one of the Business Centers you "
        "administer: 1 (A).",
    ),
    (
        ErrorCode.BC_ADMIN_REQUIRED,
        {"reason": "s4", "seller_bcs": ["5 (Kim's)"], "bc_admins": ["bo@x.com", "jo@x.com"]},
        "To approve, you need admin access to your Business Center 5 (Kim's). Ask its admin "
        "(bo@x.com, jo@x.com) to make you an admin, then open this link again.",
    ),
    (
        ErrorCode.BC_ADMIN_REQUIRED,
        {"reason": "s4_no_admins", "seller_bcs": ["5 (Kim's)"], "bc_admins": []},
        "To approve, you need admin access to your Business Center 5 (Kim's). Ask its admin "
        "to make you an admin, then open this link again.",
    ),
    (
        ErrorCode.SERVICE_UNAVAILABLE,
        {"reason": "no_answer", "timeout_seconds": 30},
        "No worker answered within 30 seconds; the service may be down. Anything already "
        "accepted carries on when it is back: check the status before trying again.",
    ),
    (
        ErrorCode.SERVICE_UNAVAILABLE,
        {"reason": "failed", "error": "boom"},
        "The request failed: boom",
    ),
]


@pytest.mark.parametrize(("code", "details", "sentence"), SENTENCES)
def test_each_template_renders_the_sentence_people_read(
    code: ErrorCode, details: dict[str, Any], sentence: str
) -> None:
    refusal = Refusal(code, **details)
    assert refusal.message == sentence
    # The details travel with the refusal (JSON, Temporal), so any edge re-words it.
    assert refusal.to_dict()["error"].get("details", {}) == details
    assert wording(refusal.code, refusal.details) == sentence


def _raise_sites() -> list[tuple[str, int, ast.Call]]:
    sites = []
    for rel in REQUEST_SIDE:
        tree = ast.parse((ROOT / rel).read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Refusal"
            ):
                sites.append((rel, node.lineno, node))
    return sites


def _reasons(call: ast.Call) -> list[str | None]:
    """The ``reason`` values a call can pass: a constant or a conditional of constants."""
    for kw in call.keywords:
        if kw.arg == "reason":
            value = kw.value
            if isinstance(value, ast.IfExp):
                return [ast.literal_eval(value.body), ast.literal_eval(value.orelse)]
            return [ast.literal_eval(value)]
    return [None]


def test_request_side_refusals_carry_only_code_and_details_with_a_catalogue_entry() -> None:
    sites = _raise_sites()
    assert len(sites) >= 20, "the scan found the raise sites"
    for rel, line, call in sites:
        where = f"{rel}:{line}"
        first = call.args[0]
        if not (isinstance(first, ast.Attribute) and ast.unparse(first.value) == "ErrorCode"):
            continue  # re-wrapping a refusal that came back from a workflow, as it was
        assert len(call.args) == 1, f"{where}: words belong in models/wording.py"
        code_node = call.args[0]
        assert isinstance(code_node, ast.Attribute), where
        code = ErrorCode[code_node.attr]
        given = {kw.arg for kw in call.keywords if kw.arg is not None}
        spread = any(kw.arg is None for kw in call.keywords)  # **details: see the table
        for reason in _reasons(call):
            details = {"reason": reason} if reason else {}
            template = template_for(code, details)
            assert template is not None, f"{where}: no catalogue entry for {code}.{reason}"
            if reason:
                assert f"{code}.{reason}" in CATALOGUE, where
            if not spread:
                missing = fields_of(template) - given
                assert not missing, f"{where}: details lack {missing}"


def test_a_refusal_without_its_details_keeps_the_words_it_was_raised_with() -> None:
    # An error from a workflow that still words its own refusal (no details) is shown as
    # raised, not as a template full of "?".
    old = Refusal(ErrorCode.REQUEST_NOT_PENDING, "Request r1 is approved; only a pending ...")
    assert old.message == "Request r1 is approved; only a pending ..."
