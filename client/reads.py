"""Reading requests from the store (no Temporal), for the CLI and the API alike:
one request with its story, and the lists by BC (R8, with R24's quota) and by shop (R15).
"""

from __future__ import annotations

import contextlib

from pydantic import BaseModel
from sqlalchemy import Engine

from models.bulk_messages import QuotaView
from models.errors import Refusal
from models.fields import require_bc_or_shop
from models.views import RequestView
from store import history, queries
from store.db import read_session
from store.people import require_shop_by_code
from store.quota import quota_today


class RequestList(BaseModel):
    """A BC's or a shop's requests, each with every transition (R21); a BC's list carries
    today's quota (R24) so it sees what it can still ask."""

    requests: list[RequestView]
    quota: QuotaView | None = None


def request_status(engine: Engine, request_id: str) -> RequestView:
    with read_session(engine) as session:
        return history.with_transitions(session, [queries.request_view(session, request_id)])[0]


def request_list(engine: Engine, *, bc_id: int | None, shop_code: str | None) -> RequestList:
    require_bc_or_shop(bc_id, shop_code)
    with read_session(engine) as session:
        if bc_id is not None:
            views = queries.requests_for_bc(session, bc_id)
        else:
            assert shop_code is not None
            shop = require_shop_by_code(session, shop_code)
            assert shop.id is not None
            views = queries.requests_for_shop(session, shop.id)
        # R21: every transition with its time and actor, the same rows the seller's page
        # shows (store/history.py).
        views = history.with_transitions(session, views)
        quota = None
        if bc_id is not None:
            with contextlib.suppress(Refusal):
                quota = quota_today(session, bc_id)
    return RequestList(requests=views, quota=quota)
