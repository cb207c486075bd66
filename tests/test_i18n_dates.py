"""R28 for the end dates the e-mails carry (R23): written in the recipient's language and
the BC's timezone by Babel, never an English "2027-02-01 00:00 UTC" inside a Thai or
Vietnamese sentence."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from activities import emails
from activities.mailer import PERMISSION_LABELS
from models.enums import Permission

ENDS = datetime(2027, 2, 1, 17, 0, tzinfo=UTC)  # 2 Feb 2027, 00:00 in Bangkok
SHOP_OF_BC: dict[str, Any] = {
    "recipient_name": "Kim", "bc_name": "Thai Brand BC", "bc_id": 4, "shop_name": "Thai Shop",
    "shop_code": "THMEMBER04",
}  # fmt: skip


def test_r28_access_ending_date_is_in_the_recipients_language_and_the_bcs_timezone() -> None:
    thai = emails.access_ending(**SHOP_OF_BC, ends_at=ENDS, timezone="Asia/Bangkok", locale="th")
    # Thai CLDR: abbreviated Thai month, the zone named in Thai; the day is Bangkok's.
    assert "2 ก.พ. 2027" in thai.subject, thai.subject
    assert "เวลาอินโดจีน" in thai.subject
    for part in (thai.subject, thai.text, thai.html):
        assert "UTC" not in part and "2027-02-01" not in part and "Feb" not in part
    assert "2 ก.พ. 2027" in thai.text and "2 ก.พ. 2027" in thai.html

    english = emails.access_ending(**SHOP_OF_BC, ends_at=ENDS, timezone="Asia/Bangkok")
    assert "2 Feb 2027, 00:00 Indochina Time" in english.subject

    vietnamese = emails.access_ending(**SHOP_OF_BC, ends_at=ENDS, locale="vi")
    assert "17:00 1 thg 2, 2027 UTC" in vietnamese.text  # no BC zone: UTC, the Vietnamese way


def test_r28_assignment_and_invitation_dates_follow_the_recipients_language() -> None:
    ending = emails.assignment_ending(
        **SHOP_OF_BC, permission_label=PERMISSION_LABELS[Permission.MANAGER], ends_at=ENDS,
        admins=[], timezone="Asia/Ho_Chi_Minh", locale="vi",
    )  # fmt: skip
    assert "00:00 2 thg 2, 2027 Giờ Đông Dương" in ending.subject, ending.subject
    assert "2027-02-01" not in ending.text and "Feb" not in ending.text

    invited = emails.partner_invitation(
        recipient_name="Kim", bc_name="Agency One", bc_id=1, partner_bc_name="Thai Brand BC",
        partner_bc_id=4, invited_by="ana@agency-one.com", link="http://127.0.0.1/x",
        shops=[("Thai Shop", "THMEMBER04", "manager", ENDS)], timezone="Asia/Bangkok",
        locale="th",
    )  # fmt: skip
    assert "2 ก.พ. 2027" in invited.text and "2 ก.พ. 2027" in invited.html
