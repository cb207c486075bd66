"""The partner side's refusals (R16-R19) take their words from the catalogue
(models/wording.py) and carry what those words need.

Every refusal the partner side raises is built by one function of
store/partner_refusals.py; this table calls each of them as its raise sites do and checks
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
    "ad_account_listed_twice": (
        lambda: refusals.ad_account_listed_twice(7200000000000000001),
        ErrorCode.INVALID_INPUT,
        "Ad account 7200000000000000001 is listed twice.",
    ),
    "unknown_invitation": (
        lambda: refusals.unknown_invitation("inv_missing"),
        ErrorCode.UNKNOWN_INVITATION,
        "There is no invitation inv_missing.",
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
    "unknown_shop": (
        lambda: refusals.unknown_shop(99),
        ErrorCode.UNKNOWN_SHOP_CODE,
        "No such shop.",
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
    "share_with_itself": (
        lambda: refusals.share_with_itself(AGENCY.id),
        ErrorCode.INVALID_INPUT,
        "A Business Center cannot share with itself.",
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
    "already_a_partner": (
        lambda: refusals.already_a_partner(SUB),
        ErrorCode.INVALID_INPUT,
        "Business Center 7100000000000000002 is already a partner; the shop is shared at once.",
    ),
    "unknown_ad_account": (
        lambda: refusals.unknown_ad_account(7200000000000000009),
        ErrorCode.UNKNOWN_AD_ACCOUNT,
        "There is no ad account 7200000000000000009.",
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
    "unknown_removal": (
        lambda: refusals.unknown_removal("rm_missing"),
        ErrorCode.INVALID_INPUT,
        "There is no removal rm_missing.",
    ),
    "no_temporal_client": (
        lambda: refusals.no_temporal_client(),
        ErrorCode.SERVICE_UNAVAILABLE,
        "No Temporal client configured.",
    ),
    "no_email_given": (
        lambda: refusals.no_email_given(),
        ErrorCode.INVALID_INPUT,
        "Give at least one e-mail address.",
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


def test_every_partner_refusal_is_in_the_table() -> None:
    """A new refusal function without a row here fails this test, not a person's page."""
    defined = {
        name
        for name, fn in inspect.getmembers(refusals, inspect.isfunction)
        if fn.__module__ == refusals.__name__ and not name.startswith("_")
    }
    assert defined == set(RAISED)


@pytest.mark.parametrize("name", sorted(RAISED))
def test_r16_r19_each_refusal_renders_from_the_catalogue(name: str) -> None:
    make, code, sentence = RAISED[name]
    refusal = make()
    assert refusal.code == code
    template = template_for(refusal.code, refusal.details)
    assert template is not None, f"{name}: no catalogue entry for {refusal.code}"
    assert fields_of(template) <= refusal.details.keys(), f"{name}: details miss a field"
    assert refusal.message == sentence


@pytest.mark.parametrize("name", sorted(RAISED))
def test_each_refusal_survives_the_trip_through_temporal(name: str) -> None:
    """An activity's refusal reaches the CLI and pages as an ApplicationError's type and
    details (JSON); rebuilt there, it reads the same (client.access_requests.refusal_from)."""
    refusal = RAISED[name][0]()
    details = json.loads(json.dumps(refusal.details))
    rebuilt = Refusal(refusal.code, "words of an older worker", **details)
    assert rebuilt.message == refusal.message
    assert rebuilt.to_dict()["error"]["code"] == refusal.code


def test_each_sentence_has_one_template() -> None:
    """No two refusals share a template by accident (each reason names one sentence)."""
    keys: dict[str, str] = {}
    for name, (make, _code, _sentence) in RAISED.items():
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


@pytest.mark.parametrize("path", PARTNER_SIDE)
def test_no_partner_module_writes_its_own_refusal(path: str) -> None:
    """Refusals come from store/partner_refusals.py, whose words are in the catalogue."""
    tree = ast.parse((ROOT / path).read_text())
    built = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Refusal"
    ]
    assert built == [], f"{path} builds a Refusal itself at lines {built}"
