"""The partner side's refusals (R16-R19) take their words from the catalogue
(models/wording.py) and carry what those words need.

Every refusal the partner side raises is built by one function of
store/partner_refusals.py, or, when it carries only its code and the id it was given, in
place at its raise site; these tables build each of them as their raise sites do and check
that the catalogue has its sentence, that the refusal's details fill every field of it,
that the details survive the trip through Temporal (JSON), and that no partner-side module
writes a sentence of its own. The store tests (test_members_store.py,
test_sharing_store.py, test_campaigns_store.py, test_removal_store.py) prove the same
sentences reach people when the rules refuse.
"""

from __future__ import annotations

import ast
import inspect
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from models.enums import BCType, Permission
from models.errors import ErrorCode, Refusal
from models.partner_enums import InvitationKind, InvitationStatus
from models.tables import BusinessCenter, Invitation, Shop
from models.wording import fields_of, template_for
from store import partner_refusals as refusals

ROOT = Path(__file__).resolve().parent.parent


def _bc(bc_id: int, name: str) -> BusinessCenter:
    return BusinessCenter(
        id=bc_id, name=name, timezone="Asia/Singapore", type=BCType.AGENCY, country="SG"
    )


def _invitation(status: InvitationStatus) -> Invitation:
    return Invitation(
        id="inv_0123456789abcdef0123",
        kind=InvitationKind.PARTNER,
        bc_id=AGENCY.id,
        invited_by_user_id=1,
        partner_bc_id=SUB.id,
        status=status,
        workflow_id="partner-invitation",
    )


AGENCY = _bc(7100000000000000001, "Agency One")
SUB = _bc(7100000000000000002, "Sub Agency")
SHOP = Shop(id=4, code="SGNEWBC002", name="New BC Shop", location="SG")
PENDING = _invitation(InvitationStatus.PENDING)
ACCEPTED = _invitation(InvitationStatus.ACCEPTED)

# name of the function in store/partner_refusals.py -> (call as a raise site makes it,
# the code, the sentence people read)
RAISED: dict[str, tuple[Callable[[], Refusal], ErrorCode, str]] = {
    "not_a_member_to_assign": (
        lambda: refusals.not_a_member_to_assign("new@agency.example", AGENCY),
        ErrorCode.NOT_A_MEMBER,
        "new@agency.example is not a member of Business Center 7100000000000000001 "
        "(Agency One); invite them first (invite-member), and assign them once they accept.",
    ),
    "already_a_member": (
        lambda: refusals.already_a_member("lee@agency.example", AGENCY),
        ErrorCode.ALREADY_A_MEMBER,
        "lee@agency.example is already a member of Business Center 7100000000000000001 "
        "(Agency One).",
    ),
    "invitation_already_pending": (
        lambda: refusals.invitation_already_pending("new@agency.example", AGENCY, PENDING.id),
        ErrorCode.INVITATION_ALREADY_PENDING,
        "new@agency.example already has a pending invitation (inv_0123456789abcdef0123) to "
        "Business Center 7100000000000000001; they can accept that one.",
    ),
    "ad_account_not_of_bc": (
        lambda: refusals.ad_account_not_of_bc(7200000000000000009, AGENCY),
        ErrorCode.UNKNOWN_AD_ACCOUNT,
        "Ad account 7200000000000000009 is not an ad account of Business Center "
        "7100000000000000001 (Agency One).",
    ),
    "invitation_not_pending": (
        lambda: refusals.invitation_not_pending(ACCEPTED),
        ErrorCode.INVITATION_NOT_PENDING,
        "Invitation inv_0123456789abcdef0123 is accepted; only a pending invitation can be "
        "answered or changed.",
    ),
    "not_the_invitee": (
        lambda: refusals.not_the_invitee(PENDING),
        ErrorCode.PERMISSION_DENIED,
        "Invitation inv_0123456789abcdef0123 was sent to another e-mail address; only its "
        "recipient can answer it.",
    ),
    "shop_not_held": (
        lambda: refusals.shop_not_held(AGENCY, SHOP),
        ErrorCode.SHOP_NOT_HELD,
        "Business Center 7100000000000000001 (Agency One) has no access to shop SGNEWBC002; "
        "request access to the shop first.",
    ),
    "above_held": (
        lambda: refusals.above_held(
            "ad_promotion", Permission.MANAGER, to="members", bc=AGENCY, shop=SHOP
        ),
        ErrorCode.PERMISSION_DENIED,
        "Business Center 7100000000000000001 (Agency One) holds ad_promotion permission on "
        "shop SGNEWBC002, so its members get at most that; manager is higher.",
    ),
    "partner_has_shop": (
        lambda: refusals.partner_has_shop(SUB, SHOP),
        ErrorCode.ALREADY_HAS_ACCESS,
        "Business Center 7100000000000000002 (Sub Agency) already has access to shop SGNEWBC002.",
    ),
    "not_yet_a_partner": (
        lambda: refusals.not_yet_a_partner(AGENCY, SUB),
        ErrorCode.NOT_A_PARTNER,
        "Business Center 7100000000000000002 (Sub Agency) is not yet a partner of Agency "
        "One; share-shop sends it an add-partner invitation instead.",
    ),
    "not_a_member_of_ad_account_bc": (
        lambda: refusals.not_a_member_of_ad_account_bc(
            "stranger@example.com", AGENCY, 7200000000000000001
        ),
        ErrorCode.NOT_A_MEMBER,
        "stranger@example.com is not a member of Business Center 7100000000000000001 "
        "(Agency One), which owns ad account 7200000000000000001.",
    ),
    "no_shop_permission": (
        lambda: refusals.no_shop_permission("lee@agency.example", AGENCY, SHOP),
        ErrorCode.PERMISSION_DENIED,
        "lee@agency.example holds no permission on shop SGNEWBC002; an admin of Agency One "
        "can assign them ad_promotion or manager (assign-member).",
    ),
    "no_campaign_permission": (
        lambda: refusals.no_campaign_permission("lee@agency.example", 7200000000000000001),
        ErrorCode.PERMISSION_DENIED,
        "lee@agency.example may not create campaigns in ad account 7200000000000000001; it "
        "needs the admin or operator permission on that ad account.",
    ),
    "not_removal_authority": (
        lambda: refusals.not_removal_authority("lee@agency.example", SHOP),
        ErrorCode.PERMISSION_DENIED,
        "lee@agency.example cannot remove partners of shop SGNEWBC002: only the shop's team "
        "(Seller Center partner management) or an admin of its owner Business Center can.",
    ),
    "not_a_partner_of_shop": (
        lambda: refusals.not_a_partner_of_shop(SUB, SHOP),
        ErrorCode.NOT_A_PARTNER,
        "Business Center 7100000000000000002 (Sub Agency) is not a partner of shop "
        "SGNEWBC002; there is no access to remove.",
    ),
    "no_answer": (
        lambda: refusals.no_answer(10.0),
        ErrorCode.SERVICE_UNAVAILABLE,
        "No worker answered within 10 seconds; the service may be down. Anything already "
        "accepted carries on when it is back: check the status before trying again.",
    ),
    "operation_failed": (
        lambda: refusals.operation_failed(RuntimeError("boom")),
        ErrorCode.SERVICE_UNAVAILABLE,
        "The request failed: boom",
    ),
}

BUILT_IN_PLACE: dict[str, tuple[Callable[[], Refusal], ErrorCode, str]] = {
    "ad_account_listed_twice": (
        lambda: Refusal(
            ErrorCode.INVALID_INPUT,
            reason="ad_account_listed_twice",
            ad_account_id=7200000000000000001,
        ),
        ErrorCode.INVALID_INPUT,
        "Ad account 7200000000000000001 is listed twice.",
    ),
    "unknown_invitation": (
        lambda: Refusal(ErrorCode.UNKNOWN_INVITATION, invitation_id="inv_missing"),
        ErrorCode.UNKNOWN_INVITATION,
        "There is no invitation inv_missing.",
    ),
    "unknown_shop": (
        lambda: Refusal(ErrorCode.UNKNOWN_SHOP_CODE, reason="by_id", shop_id=99),
        ErrorCode.UNKNOWN_SHOP_CODE,
        "No such shop.",
    ),
    "share_with_itself": (
        lambda: Refusal(ErrorCode.INVALID_INPUT, reason="share_with_itself", bc_id=AGENCY.id),
        ErrorCode.INVALID_INPUT,
        "A Business Center cannot share with itself.",
    ),
    "already_a_partner": (
        lambda: Refusal(ErrorCode.INVALID_INPUT, reason="already_a_partner", partner_bc_id=SUB.id),
        ErrorCode.INVALID_INPUT,
        "Business Center 7100000000000000002 is already a partner; the shop is shared at once.",
    ),
    "unknown_ad_account": (
        lambda: Refusal(ErrorCode.UNKNOWN_AD_ACCOUNT, ad_account_id=7200000000000000009),
        ErrorCode.UNKNOWN_AD_ACCOUNT,
        "There is no ad account 7200000000000000009.",
    ),
    "unknown_removal": (
        lambda: Refusal(ErrorCode.INVALID_INPUT, reason="unknown_removal", removal_id="rm_missing"),
        ErrorCode.INVALID_INPUT,
        "There is no removal rm_missing.",
    ),
    "no_temporal_client": (
        lambda: Refusal(ErrorCode.SERVICE_UNAVAILABLE, reason="no_client"),
        ErrorCode.SERVICE_UNAVAILABLE,
        "No Temporal client configured.",
    ),
    "no_email_given": (
        lambda: Refusal(ErrorCode.INVALID_INPUT, reason="no_email"),
        ErrorCode.INVALID_INPUT,
        "Give at least one e-mail address.",
    ),
}
"""Refusals that carry only their code and the id they were given, built where they are
raised (``raise Refusal(ErrorCode.UNKNOWN_INVITATION, invitation_id=...)``): one row per
raise site's shape, as the site builds it."""
EVERY = {**RAISED, **BUILT_IN_PLACE}


def test_every_partner_refusal_is_in_the_table() -> None:
    """A new refusal function without a row here fails this test, not a person's page."""
    defined = {
        name
        for name, fn in inspect.getmembers(refusals, inspect.isfunction)
        if fn.__module__ == refusals.__name__ and not name.startswith("_")
    }
    assert defined == set(RAISED)


@pytest.mark.parametrize("name", sorted(EVERY))
def test_r16_r19_each_refusal_renders_from_the_catalogue(name: str) -> None:
    make, code, sentence = EVERY[name]
    refusal = make()
    assert refusal.code == code
    template = template_for(refusal.code, refusal.details)
    assert template is not None, f"{name}: no catalogue entry for {refusal.code}"
    assert fields_of(template) <= refusal.details.keys(), f"{name}: details miss a field"
    assert refusal.message == sentence


@pytest.mark.parametrize("name", sorted(EVERY))
def test_each_refusal_survives_the_trip_through_temporal(name: str) -> None:
    """An activity's refusal reaches the CLI and pages as an ApplicationError's type and
    details (JSON); rebuilt there, it reads the same (client.access_requests.refusal_from)."""
    refusal = EVERY[name][0]()
    details = json.loads(json.dumps(refusal.details))
    rebuilt = Refusal(refusal.code, "words of an older worker", **details)
    assert rebuilt.message == refusal.message
    assert rebuilt.to_dict()["error"]["code"] == refusal.code


def test_each_sentence_has_one_template() -> None:
    """No two refusals share a template by accident (each reason names one sentence)."""
    keys: dict[str, str] = {}
    for name, (make, _code, _sentence) in EVERY.items():
        refusal = make()
        reason = refusal.details.get("reason")
        key = f"{refusal.code}.{reason}" if reason else refusal.code
        assert key not in keys, f"{name} and {keys[key]} share {key}"
        keys[key] = name


PARTNER_SIDE = [
    "store/members.py",
    "store/sharing.py",
    "store/invitations.py",
    "store/campaigns.py",
    "store/removal.py",
    "store/mail_context.py",
    "store/deliveries.py",
    "client/partners.py",
    "activities/partners.py",
    "activities/campaigns.py",
    "activities/mailer.py",
]


Shape = tuple[str, str | None, frozenset[str]]
"""A refusal's code, its reason and the names of its details."""


def _shape(refusal: Refusal) -> Shape:
    details = frozenset(refusal.details)
    return (str(refusal.code), refusal.details.get("reason"), details)


def built_in_place(source: str) -> list[tuple[int, Shape | None]]:
    """Every ``Refusal(ErrorCode.X, reason="...", name=...)`` a module builds, by line; None
    for one whose code or reason is not written out (it cannot be checked)."""
    found: list[tuple[int, Shape | None]] = []
    for node in ast.walk(ast.parse(source)):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "Refusal"
        ):
            continue
        code = node.args[0] if node.args else None
        reason = next((k.value for k in node.keywords if k.arg == "reason"), None)
        if (
            len(node.args) != 1
            or not isinstance(code, ast.Attribute)
            or any(k.arg is None for k in node.keywords)
            or (
                reason is not None
                and not (isinstance(reason, ast.Constant) and isinstance(reason.value, str))
            )
        ):
            found.append((node.lineno, None))
            continue
        words = (
            reason.value
            if isinstance(reason, ast.Constant) and isinstance(reason.value, str)
            else None
        )
        names = frozenset(str(k.arg) for k in node.keywords)
        found.append((node.lineno, (str(ErrorCode[code.attr]), words, names)))
    return found


@pytest.mark.parametrize("path", PARTNER_SIDE)
def test_a_refusal_built_in_place_is_one_of_the_table(path: str) -> None:
    """A partner module builds a Refusal itself only in a shape BUILT_IN_PLACE renders
    (so its sentence is in the catalogue with every field filled); anything with details
    from rows comes from store/partner_refusals.py."""
    known = {_shape(make()) for make, _code, _sentence in BUILT_IN_PLACE.values()}
    sites = built_in_place((ROOT / path).read_text())
    unknown = [line for line, shape in sites if shape not in known]
    assert unknown == [], f"{path}: a Refusal not in BUILT_IN_PLACE at lines {unknown}"


def test_every_row_built_in_place_has_its_raise_site() -> None:
    shapes = {
        shape for path in PARTNER_SIDE for _line, shape in built_in_place((ROOT / path).read_text())
    }
    stale = [
        name for name, (make, _c, _s) in BUILT_IN_PLACE.items() if _shape(make()) not in shapes
    ]
    assert stale == [], f"no partner module raises these any more: {stale}"


def test_the_site_check_tells_a_new_refusal_from_a_known_one() -> None:
    known = 'raise Refusal(ErrorCode.UNKNOWN_INVITATION, invitation_id="x")\n'
    new = 'raise Refusal(ErrorCode.UNKNOWN_INVITATION, invitation_id="x", bc_name=n)\n'
    assert built_in_place(known) == [
        (1, ("unknown_invitation", None, frozenset({"invitation_id"})))
    ]
    assert built_in_place(new)[0][1] != built_in_place(known)[0][1]
    assert built_in_place("raise Refusal(code, **details)\n") == [(1, None)]
