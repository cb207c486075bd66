"""The demo: Agency One asks for one shop per approval scenario (S1-S4) plus an "Add my
shop" that races one of them (R11), and a way to find the sellers' approval links.

Seeding is safe to repeat: it never starts a request for a shop Agency One already holds
or for which its request (same method) is still pending; it says what it kept instead.

    python -m devtools.demo links EMAIL   # the approval links mailed to EMAIL, newest first
"""

from __future__ import annotations

import argparse
import email
import email.policy
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from models.enums import RequestMethod, RequestStatus
from models.errors import Refusal
from models.reference import ReferenceData
from store.db import read_session, write_session
from store.grants import active_grants
from store.people import find_shop_by_code
from store.queries import requests_for_bc
from store.reference import load_reference

if TYPE_CHECKING:
    from client.access_requests import RequestService

DEMO_DATA = Path(__file__).resolve().parent / "data" / "demo.json"
AGENCY = 7100000000000000001
AGENCY_ADMIN = "ana@agency-one.com"


@dataclass(frozen=True)
class DemoStep:
    """One demo request and what the seller who approves it will see."""

    scenario: str
    method: RequestMethod
    shop_code: str
    approver: str
    what: str


PLAN = (
    DemoStep(
        "S1", RequestMethod.REQUEST_ACCESS, "GBLINKED01", "oli@brand-linked.com",
        "the shop has a linked BC: one click approves",
    ),
    DemoStep(
        "S2", RequestMethod.REQUEST_ACCESS, "SGNEWBC002", "nia@brand-new.com",
        "no BC yet: name a new BC and pick its timezone",
    ),
    DemoStep(
        "S3", RequestMethod.REQUEST_ACCESS, "USADMIN003", "raj@brand-admin.com",
        "pick a BC Raj administers (7100000000000000004)",
    ),
    DemoStep(
        "R11", RequestMethod.ADD_MY_SHOP, "USADMIN003", "raj@brand-admin.com",
        '"Add my shop" for the same shop: the first one approved wins, the other expires',
    ),
    DemoStep(
        "S4", RequestMethod.REQUEST_ACCESS, "THMEMBER04", "kim@brand-member.com",
        "Kim administers no BC: the page says to ask Bo, and nothing is approved",
    ),
)  # fmt: skip


@dataclass(frozen=True)
class DemoOutcome:
    step: DemoStep
    action: str  # "started", "kept" or "refused"
    status: str
    request_id: str | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.step.scenario,
            "shop_code": self.step.shop_code,
            "method": self.step.method.value,
            "approver": self.step.approver,
            "action": self.action,
            "status": self.status,
            "request_id": self.request_id,
            "note": self.note,
        }

    def line(self) -> str:
        step = self.step
        head = f"  {step.scenario:<4}{step.shop_code}  {step.method.value:<16}"
        approve = f"\n        approve as {step.approver}: {step.what}"
        if self.action == "refused":
            return f"{head}refused ({self.status}): {self.note}"
        if self.status == "held":
            return f"{head}kept: {self.note}"
        if self.action == "kept":
            return f"{head}kept {self.request_id}, still {self.status}{approve}"
        return f"{head}started {self.request_id}, {self.status}{approve}"


def load_demo_data(engine: Engine) -> dict[str, int] | None:
    """Load devtools/data/demo.json, unless its shops are all there already (None).

    Loading again would reset what approvals changed since: ``load`` writes each shop's
    linked BC from the file, so S2's and S3's links would vanish and their sellers would be
    asked to pick a BC again. So a demo that is there is kept as it is.
    """
    data = ReferenceData.model_validate_json(DEMO_DATA.read_text())
    with read_session(engine) as session:
        if all(find_shop_by_code(session, shop.code) for shop in data.shops):
            return None
    with write_session(engine) as session:
        counts = load_reference(session, data)
    return {
        "users": counts.users,
        "business_centers": counts.business_centers,
        "shops": counts.shops,
    }


def _already_there(engine: Engine, step: DemoStep) -> DemoOutcome | None:
    """What makes starting this step's request pointless: the shop is held, or the same
    request is still pending (R6). Either is kept as it is."""
    with read_session(engine) as session:
        shop = find_shop_by_code(session, step.shop_code)
        if shop is None or shop.id is None:
            return None
        grants = active_grants(session, AGENCY, shop.id)
        if grants:
            held = ", ".join(f"{g.relationship.value} ({g.permission.value})" for g in grants)
            return DemoOutcome(
                step, "kept", "held", note=f"Agency One already holds the shop as {held}"
            )
        for view in requests_for_bc(session, AGENCY):
            if (
                view.shop_code == step.shop_code
                and view.method is step.method
                and view.status is RequestStatus.PENDING
            ):
                return DemoOutcome(step, "kept", view.status.value, view.request_id)
    return None


async def seed_requests(service: RequestService, engine: Engine) -> list[DemoOutcome]:
    """Start each planned request that is neither held nor pending; keep the others."""
    outcomes = []
    for step in PLAN:
        kept = _already_there(engine, step)
        if kept is not None:
            outcomes.append(kept)
            continue
        try:
            sub = await service.submit(
                method=step.method, bc_id=AGENCY, shop_code=step.shop_code, by=AGENCY_ADMIN
            )
        except Refusal as refusal:
            outcomes.append(DemoOutcome(step, "refused", refusal.code, note=refusal.message))
            continue
        outcomes.append(DemoOutcome(step, "started", sub.status, sub.request_id))
    return outcomes


def links_command(email_address: str) -> str:
    """The shell line that prints the approval links mailed to one seller."""
    return f".venv/bin/python -m devtools.demo links {email_address}"


def summary(outcomes: Iterable[DemoOutcome]) -> str:
    """What the quick start prints: each scenario, who approves, and how to get the link."""
    outcomes = list(outcomes)
    counts = {a: sum(o.action == a for o in outcomes) for a in ("started", "kept", "refused")}
    lines = [
        "Demo requests from Agency One (BC 7100000000000000001, admin ana@agency-one.com): "
        + ", ".join(f"{n} {action}" for action, n in counts.items() if n)
        + ":"
    ]
    lines += [outcome.line() for outcome in outcomes]
    lines += [
        "  Each seller's personal approval link is in the e-mail outbox; the newest first:",
        f"    {links_command('oli@brand-linked.com')}",
        "  (the link a requester copies only shows the request: the seller asks there for a",
        "  personal link, which is mailed to them.)",
    ]
    return "\n".join(lines)


# --- the approval links in the outbox -------------------------------------------------------

_LINK = re.compile(r"https?://\S+/approve/[A-Za-z0-9._~-]+")
_SHOP = re.compile(r"shop code ([A-Za-z0-9]+)")
_METHOD = re.compile(r"Request:\s+(.+)")


@dataclass(frozen=True)
class MailedLink:
    url: str
    shop_code: str
    method_label: str
    subject: str
    mtime: float


def mailed_links(outbox: Path, recipient: str) -> list[MailedLink]:
    """Approval links mailed to ``recipient`` through the outbox, newest first."""
    found = []
    wanted = recipient.strip().lower()
    for path in outbox.glob("*.eml"):
        with path.open("rb") as handle:
            msg = email.message_from_binary_file(handle, policy=email.policy.default)
        if wanted not in str(msg.get("To", "")).lower():
            continue
        body = msg.get_body(("plain",))  # type: ignore[attr-defined]
        text = body.get_content() if body is not None else ""
        link = _LINK.search(text)
        if link is None:
            continue
        shop, method = _SHOP.search(text), _METHOD.search(text)
        found.append(
            MailedLink(
                url=link.group(0),
                shop_code=shop.group(1) if shop else "?",
                method_label=method.group(1).strip() if method else "",
                subject=str(msg.get("Subject", "")),
                mtime=path.stat().st_mtime,
            )
        )
    return sorted(found, key=lambda m: m.mtime, reverse=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.demo",
        description="Find the approval links the demo mailed to a seller (newest first).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    links = sub.add_parser("links", help="print the approval links mailed to EMAIL")
    links.add_argument("email", help="the seller's e-mail, e.g. oli@brand-linked.com")
    links.add_argument(
        "--outbox",
        type=Path,
        default=None,
        help="the outbox folder (default: MAIL_OUTBOX_DIR, else var/outbox)",
    )
    args = parser.parse_args(argv)
    outbox = args.outbox
    if outbox is None:
        from pydantic import ValidationError

        from models.settings import Settings

        try:
            outbox = Settings().mail_outbox_dir
        except ValidationError as err:
            print(
                f"Invalid configuration ({err.errors()[0]['msg']}); run the export line the "
                "quick start printed, or pass --outbox.",
                file=sys.stderr,
            )
            return 2
    if not outbox.is_dir():
        print(f"No outbox at {outbox}; is the quick start running? (see --outbox)", file=sys.stderr)
        return 1
    found = mailed_links(outbox, args.email)
    if not found:
        print(f"No approval link mailed to {args.email} in {outbox}.", file=sys.stderr)
        return 1
    for link in found:
        print(f"{link.shop_code}  {link.method_label}\n  {link.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
