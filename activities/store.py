"""Activities over the store's request rules (R1-R14). Each is one short transaction,
idempotent on its business key (request id, send number), and runs as a *local* activity:
no server round trip per call, which is most of a lifecycle's cost (docs/performance.md)."""

from __future__ import annotations

from sqlalchemy import Engine
from temporalio import activity

from activities.refusals import refusals_as_errors
from client.links import LinkSigner
from models.messages import (
    Admission,
    AdmitRequest,
    CancelInput,
    DecideApproval,
    Decision,
    DeclineInput,
    GrantResult,
    RecordResend,
)
from models.names import Activity
from models.tables import AccessRequest
from store import decline
from store import request_records as rules
from store.admission import admit_request
from store.approval import DecisionRecord, decide_approval
from store.db import write_session
from store.people import user_email


class RequestStoreActivities:
    def __init__(self, engine: Engine, links: LinkSigner) -> None:
        self._engine = engine
        self._links = links

    @activity.defn(name=Activity.ADMIT_REQUEST)
    @refusals_as_errors
    def admit_request(self, input: AdmitRequest) -> Admission:
        with write_session(self._engine) as session:
            admitted = admit_request(
                session,
                request_id=input.request_id,
                method=input.method,
                bc_id=input.bc_id,
                shop_id=input.shop_id,
                requested_by=input.requested_by,
                workflow_id=input.workflow_id,
            )
            created_at = admitted.request.created_at
        return Admission(
            request_id=input.request_id,
            created_at=created_at,
            approval_url=self._links.copy_link(input.request_id),
        )

    @activity.defn(name=Activity.RECORD_RESEND)
    @refusals_as_errors
    def record_resend(self, input: RecordResend) -> None:
        with write_session(self._engine) as session:
            rules.record_resend(
                session,
                request_id=input.request_id,
                seq=input.seq,
                by=input.by,
                copy_link=input.copy_link,
            )

    @activity.defn(name=Activity.CANCEL_REQUEST)
    @refusals_as_errors
    def cancel_request(self, input: CancelInput) -> None:
        with write_session(self._engine) as session:
            rules.cancel_request(session, request_id=input.request_id, by=input.by)

    @activity.defn(name=Activity.DECLINE_REQUEST)
    @refusals_as_errors
    def decline_request(self, input: DeclineInput) -> None:
        with write_session(self._engine) as session:
            decline.decline_request(
                session, request_id=input.request_id, by=input.by, reason=input.reason
            )

    @activity.defn(name=Activity.DECIDE_AND_GRANT)
    @refusals_as_errors
    def decide_and_grant(self, input: DecideApproval) -> Decision:
        with write_session(self._engine) as session:
            record = decide_approval(
                session,
                request_id=input.request_id,
                by=input.by,
                bc_id=input.bc_id,
                new_bc_name=input.new_bc_name,
                timezone=input.timezone,
                until=input.until,
            )
            decided_by = record.decided_by
            if decided_by is None and record.request.decided_by_user_id is not None:
                decided_by = user_email(session, user_id=record.request.decided_by_user_id)
            return _decision(record.request, record, decided_by)


def _decision(request: AccessRequest, record: DecisionRecord, by: str | None) -> Decision:
    expired, grant = record.expired, record.grant
    return Decision(
        request_id=request.id,
        status=request.status,
        scenario=record.scenario,
        approving_bc_id=request.approving_bc_id,
        decided_by=by,
        superseded_by=request.superseded_by,
        expired_request_id=expired.id if expired else None,
        expired_workflow_id=expired.workflow_id if expired else None,
        grant=GrantResult(
            grant_id=grant.id,
            bc_id=grant.bc_id,
            shop_id=grant.shop_id,
            relationship=grant.relationship,
            permission=grant.permission,
            ends_at=grant.ends_at,
        )
        if grant is not None and grant.id is not None
        else None,
    )
