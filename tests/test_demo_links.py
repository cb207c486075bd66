"""``python -m devtools.demo links EMAIL``: the quick start's way to a seller's approval link.

It reads the outbox the real mail code writes (whatever the transfer encoding), lists only
approval links mailed to that address (R7's personal links), newest first, and refuses
clearly (exit 1, a message, nothing written) when there is no outbox or no link.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from activities.delivery import OutboxTransport, build_message
from activities.emails import approval_request, request_approved
from devtools.demo import mailed_links

ROOT = Path(__file__).resolve().parent.parent
RAJ = "raj@brand-admin.com"


def mail_approval(outbox: Path, to: str, shop: str, method_label: str, token: str) -> None:
    rendered = approval_request(
        recipient_name="Raj", bc_name="Agency One", bc_id=7100000000000000001,
        requester="ana@agency-one.com", shop_name="Raj's Store", shop_code=shop,
        method_label=method_label, permission_label="Ad promotion",
        link=f"http://127.0.0.1:8000/approve/{token}", resend=False,
    )  # fmt: skip
    key = f"{token}:{to}"
    message = build_message(key=key, sender="noreply@shop-access.local", to=to, email=rendered)
    OutboxTransport(outbox).send(message, key, contextlib.nullcontext)


def run_links(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MAIL_OUTBOX_DIR"}
    return subprocess.run(
        [sys.executable, "-m", "devtools.demo", "links", *args],
        cwd=ROOT, env={**env, "DEV_MODE": "1"}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_links_lists_the_approval_links_mailed_to_one_seller_newest_first(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    mail_approval(outbox, RAJ, "USADMIN003", "Request access to other's TikTok Shop", "tok.A1")
    os.utime(next(outbox.glob("*.eml")), (1, 1))  # older
    mail_approval(outbox, RAJ, "USADMIN003", "Add my TikTok Shop", "tok.B2")
    mail_approval(outbox, "oli@brand-linked.com", "GBLINKED01", "Request access", "tok.C3")
    # Not an approval e-mail: no link listed for it.
    done = request_approved(
        recipient_name="Raj", shop_name="Raj's Store", shop_code="USADMIN003",
        method_label="Add my TikTok Shop", bc_name="Agency One", bc_id=1,
        approved_by="raj@brand-admin.com", relationship="owner", permission_label="Manager",
    )  # fmt: skip
    OutboxTransport(outbox).send(
        build_message(key="done", sender="n@x.local", to=RAJ, email=done),
        "done",
        contextlib.nullcontext,
    )

    found = mailed_links(outbox, "RAJ@brand-admin.com ")
    assert [(m.shop_code, m.method_label, m.url) for m in found] == [
        ("USADMIN003", "Add my TikTok Shop", "http://127.0.0.1:8000/approve/tok.B2"),
        ("USADMIN003", "Request access to other's TikTok Shop",
         "http://127.0.0.1:8000/approve/tok.A1"),
    ]  # fmt: skip

    shown = run_links(RAJ, "--outbox", str(outbox))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        "USADMIN003  Add my TikTok Shop",
        "  http://127.0.0.1:8000/approve/tok.B2",
        "USADMIN003  Request access to other's TikTok Shop",
        "  http://127.0.0.1:8000/approve/tok.A1",
    ]


def test_links_refuses_clearly_without_an_outbox_or_a_link(tmp_path: Path) -> None:
    missing = run_links(RAJ, "--outbox", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and missing.stdout == ""
    assert f"No outbox at {tmp_path / 'nowhere'}" in missing.stderr
    assert not (tmp_path / "nowhere").exists()

    outbox = tmp_path / "outbox"
    mail_approval(outbox, RAJ, "USADMIN003", "Add my TikTok Shop", "tok.B2")
    before = sorted(p.name for p in outbox.iterdir())
    none = run_links("kim@brand-member.com", "--outbox", str(outbox))
    assert none.returncode == 1 and none.stdout == ""
    assert "No approval link mailed to kim@brand-member.com" in none.stderr
    assert sorted(p.name for p in outbox.iterdir()) == before

    usage = run_links()
    assert usage.returncode == 2 and "email" in usage.stderr
