"""Activities that give and take shop access (R14). Idempotent: one grant per request."""

from __future__ import annotations

from sqlalchemy import Engine
from temporalio import activity

from activities.refusals import refusals_as_errors
from models.messages import GrantAccess, GrantResult
from models.names import Activity
from store import requests as rules
from store.db import write_session


class GrantActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name=Activity.GRANT_ACCESS)
    @refusals_as_errors
    def grant_access(self, input: GrantAccess) -> GrantResult:
        with write_session(self._engine) as session:
            grant = rules.grant_access(session, request_id=input.request_id)
            assert grant.id is not None
            return GrantResult(
                grant_id=grant.id,
                bc_id=grant.bc_id,
                shop_id=grant.shop_id,
                relationship=grant.relationship,
                permission=grant.permission,
            )
