"""Shared by the bulk request tests (R24): a BC with 60 shops, its admin, and row counts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import select

from models.tables import AccessRequest, Shop
from store.db import read_session
from tests.conftest import LINKED_BC, OLI

BULK_BC = 7100000000000000411
BULK_ADMIN = "admin@bulk.example"
BULK_SHOPS = [f"BULKSHOP{i:02d}" for i in range(60)]


def bulk_data(timezone: str = "Asia/Singapore") -> dict[str, Any]:
    return {
        "users": [{"email": BULK_ADMIN, "name": "Bulk admin"}],
        "business_centers": [
            {
                "id": BULK_BC,
                "name": "Bulk BC",
                "type": "regular",
                "country": "SG",
                "timezone": timezone,
                "members": [{"email": BULK_ADMIN, "role": "admin"}],
            }
        ],
        "shops": [
            {
                "code": code,
                "name": f"Bulk shop {code}",
                "location": "SG",
                "linked_bc": LINKED_BC,
                "team": [{"email": OLI, "role": "owner"}],
            }
            for code in BULK_SHOPS
        ],
    }


def timezone_far_from_midnight(now: datetime | None = None) -> str:
    """A BC timezone whose local time is hours from midnight now, so a test's first day
    does not end under it by accident."""
    now = now or datetime.now(UTC)
    for zone in ("Asia/Singapore", "Europe/London", "America/New_York", "Pacific/Auckland"):
        if 2 <= now.astimezone(ZoneInfo(zone)).hour <= 20:
            return zone
    raise AssertionError("unreachable: the zones above cover every hour")


def rows(engine: Engine, bc_id: int = BULK_BC) -> list[tuple[str, str, str]]:
    """(request id, shop code, BC-local day) of every request of the BC."""
    with read_session(engine) as session:
        found = session.exec(
            select(AccessRequest.id, Shop.code, AccessRequest.bc_local_day)
            .join(Shop, Shop.id == AccessRequest.shop_id)  # type: ignore[arg-type]
            .where(AccessRequest.bc_id == bc_id)
        ).all()
    return [(r[0], r[1], r[2]) for r in found]


def admitted_per_shop(engine: Engine) -> Counter[str]:
    return Counter(code for _id, code, _day in rows(engine))
