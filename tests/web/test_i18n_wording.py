"""R28: what a page shows is words, never codes or English made in Python. A refusal's
coded details (a relationship, a shop permission, a BC's type) read in the page's language
while the CLI and API keep the codes; a refusal that names a CLI command has page wording
without it; a decline reason's two problems are two whole sentences; a request's history
words its expiry and decline with their data on the page."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from client.access_requests import RequestService
from models.errors import ErrorCode, Refusal
from models.reasons import require_reason
from models.settings import Settings
from tests.conftest import LEE, OLI, S1_SHOP, SUBAGENCY
from tests.web.conftest import submit
from tests.web.test_partners import sign_in
from web import locale
from web.locale import LANGUAGE_COOKIE
from web.rendering import said


@pytest.fixture()
def thai_page() -> Iterator[None]:
    token = locale._CHOICE.set(locale.Choice(locale="th"))
    try:
        yield
    finally:
        locale._CHOICE.reset(token)


def test_r28_a_refusals_codes_read_as_words_on_a_thai_page(thai_page: None) -> None:
    refusal = Refusal(
        ErrorCode.ALREADY_HAS_ACCESS, bc_id=7, shop_code="GBLINKED01",
        relationship="partner", permission="ad_promotion",
    )  # fmt: skip
    assert "partner, ad_promotion" in refusal.message  # the CLI and API: codes, English
    shown = said(refusal)
    assert "ad_promotion" not in shown and "โปรโมตโฆษณา" in shown and "พาร์ทเนอร์" in shown


def test_r28_a_page_names_no_cli_command(thai_page: None) -> None:
    refusal = Refusal(
        ErrorCode.NOT_A_MEMBER, reason="assign", email="sam@x.example", bc_id=7, bc_name="A"
    )
    assert "(invite-member)" in refusal.message
    shown = said(refusal)
    assert "invite-member" not in shown and "sam@x.example" in shown
    assert "เชิญ" in shown  # Thai: "invite"


@pytest.mark.parametrize(
    "reason, english, thai",
    [("x" * 501, "at most 500 characters", "ไม่เกิน 500 อักขระ"),
     ("a\u0007b", "control characters (found U+0007)", "อักขระควบคุม (พบ U+0007)")],
)  # fmt: skip
def test_r28_each_decline_reason_problem_is_its_own_sentence(
    reason: str, english: str, thai: str, thai_page: None
) -> None:
    with pytest.raises(Refusal) as refused:
        require_reason(reason)
    assert refused.value.code == "invalid_input" and english in refused.value.message
    assert thai in said(refused.value)


async def test_r28_history_words_a_decline_and_its_reason_on_a_thai_page(
    http: httpx.AsyncClient, service: RequestService, settings: Settings
) -> None:
    sub = await submit(service, S1_SHOP, bc_id=SUBAGENCY, by=LEE)
    await service.decline(sub.request_id, by=OLI, reason="ยังไม่ใช่ตอนนี้")
    http.cookies.set(LANGUAGE_COOKIE, "th")
    await sign_in(http, settings, sub.request_id, OLI)
    page = (await http.get("/partners")).text
    assert "ปฏิเสธแล้ว พร้อมเหตุผล: ยังไม่ใช่ตอนนี้" in page
    assert "declined: " not in page
