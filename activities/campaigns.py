"""Stopping campaigns in pages (R19): one activity call per page, a transaction per batch,
the cursor heartbeated after each batch so a retry after a crash resumes where the last
committed batch ended instead of rescanning.
"""

from __future__ import annotations

import time

from sqlalchemy import Engine
from temporalio import activity

from activities.refusals import refusals_as_errors
from models.names import PartnerActivity
from models.partner_messages import PageStopped, StopCampaignPage
from store.campaigns import stop_batch
from store.db import write_session


class CampaignActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name=PartnerActivity.STOP_CAMPAIGN_PAGE)
    @refusals_as_errors
    def stop_page(self, input: StopCampaignPage) -> PageStopped:
        cursor = input.after_id
        details = activity.info().heartbeat_details
        if details:  # a retry: resume after the last committed batch
            cursor = max(cursor, int(details[0]))
        stopped = 0
        while stopped < input.page_size:
            limit = min(input.batch_size, input.page_size - stopped)
            with write_session(self._engine) as session:
                ids, last = stop_batch(
                    session,
                    removal_id=input.removal_id,
                    shop_id=input.shop_id,
                    bc_ids=input.bc_ids,
                    after_id=cursor,
                    limit=limit,
                )
            if last is None:
                return PageStopped(stopped=stopped, last_id=cursor, done=True)
            stopped += len(ids)
            cursor = last
            # Committed: from here a retry starts after ``cursor``.
            activity.heartbeat(cursor)
            if input.pause_ms:
                time.sleep(input.pause_ms / 1000)
        return PageStopped(stopped=stopped, last_id=cursor, done=False)
