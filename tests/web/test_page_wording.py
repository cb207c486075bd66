"""The words on the seller's pages, rendered straight from the templates:
the removal preview agrees with 0, 1 and many and leaves out lines that are zero (R19);
the home page is titled once. The browser tests (test_seller_pages_polished.py) show the
same pages at desktop and phone sizes."""

from __future__ import annotations

import re

import pytest

from models.enums import Permission
from models.partner_messages import DownstreamPartner, RemovalPreview
from models.tables import Shop
from web.rendering import counted, environment


def _preview(own: int, total: int, members: int, downstream: int = 0) -> RemovalPreview:
    return RemovalPreview(
        shop_id=1,
        shop_code="GBLINKED01",
        partner_bc_id=71,
        partner_bc_name="Agency One",
        permission=Permission.AD_PROMOTION,
        delivering_campaigns=own,
        total_delivering_campaigns=total,
        member_assignments=members,
        grant_id=5,
        downstream=[
            DownstreamPartner(
                bc_id=72, bc_name="Sub-agency", shared_by_bc_id=71, depth=1,
                permission=Permission.AD_PROMOTION, delivering_campaigns=downstream,
                keeps_access=False,
            )
        ]
        if total > own or downstream
        else [],
    )  # fmt: skip


def _render(preview: RemovalPreview) -> str:
    html = environment().get_template("partners_remove.html").render(
        shop=Shop(id=1, code="GBLINKED01", name="Linked Shop", location="GB"),
        preview=preview, grant_id=5, csrf="x", email="oli@brand-linked.com",
    )  # fmt: skip
    effects = html.split('<ul class="removal-effects">')[1].split("</ul>\n  <p>")[0]
    return " ".join(re.sub(r"<[^>]+>", " ", effects).split())


def test_counted_agrees_with_the_number() -> None:
    assert counted(0, "campaign stops", "campaigns stop") == "0 campaigns stop"
    assert counted(1, "campaign stops", "campaigns stop") == "1 campaign stops"
    assert counted(2, "campaign stops", "campaigns stop") == "2 campaigns stop"


@pytest.mark.parametrize(
    ("preview", "said", "unsaid"),
    [
        (_preview(0, 0, 0), [], ["delivering campaign", "member permission"]),
        (
            _preview(1, 1, 1),
            ["1 delivering campaign using your shop stops.",
             "1 member permission on your shop ends."],
            ["campaigns", "permissions", "0 "],
        ),
        (
            _preview(2, 3, 4, downstream=1),
            ["3 delivering campaigns using your shop stop (2 of them Agency One's own, the "
             "rest its partners').", "4 member permissions on your shop end.",
             "Sub-agency ID 72, shared by ID 71 — 1 campaign stops"],
            ["0 "],
        ),
        (
            _preview(0, 0, 0).model_copy(update={"downstream": [
                DownstreamPartner(bc_id=72, bc_name="Sub-agency", shared_by_bc_id=71,
                                  depth=1, permission=Permission.AD_PROMOTION,
                                  delivering_campaigns=0, keeps_access=False)]}),
            ["Sub-agency ID 72, shared by ID 71 — loses your shop; it runs no campaign on it"],
            ["0 ", "delivering campaign"],
        ),
    ],
    ids=["zero", "one", "many", "downstream-without-campaigns"],
)  # fmt: skip
def test_r19_removal_preview_grammar_for_zero_one_and_many(
    preview: RemovalPreview, said: list[str], unsaid: list[str]
) -> None:
    text = _render(preview)
    for sentence in said:
        assert sentence in text
    for words in unsaid:
        assert words not in text
    assert "no longer see your shop" in text  # the line that is never zero


def test_home_page_is_titled_once_and_other_pages_name_themselves_first() -> None:
    home = environment().get_template("home.html").render(signed_in=None)
    assert "<title>Shop Access</title>" in home
    signed_out = environment().get_template("signed_out.html").render()
    assert "<title>Signed out · Shop Access</title>" in signed_out
