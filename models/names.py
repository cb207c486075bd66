"""Explicit, stable names of every workflow, activity, signal and update.

Histories record these strings, so renaming a Python function never breaks a running
workflow; changing one of these does.
"""

from __future__ import annotations

from models.enums import RequestMethod


class WorkflowType:
    REQUEST_ACCESS = "RequestAccessToShop"
    ADD_MY_SHOP = "AddMyShop"


WORKFLOW_TYPE_FOR_METHOD = {
    RequestMethod.REQUEST_ACCESS: WorkflowType.REQUEST_ACCESS,
    RequestMethod.ADD_MY_SHOP: WorkflowType.ADD_MY_SHOP,
}


class Activity:
    ADMIT_REQUEST = "store.admit_request"
    RECORD_RESEND = "store.record_resend"
    CANCEL_REQUEST = "store.cancel_request"
    DECIDE_APPROVAL = "store.decide_approval"
    GRANT_ACCESS = "grants.grant_access"
    SEND_REQUEST_EMAILS = "mail.send_request_emails"
    NOTIFY_REQUESTER = "mail.notify_requester"


class Message:
    ADMISSION = "admission"  # update, sent with start
    APPROVE = "approve"  # update
    APPROVE_SIGNAL = "approve_from_ui"  # signal, for the Temporal UI's "Send signal"
    RESEND = "resend"  # update
    CANCEL = "cancel"  # update
    SUPERSEDED = "superseded"  # signal, from the request that won the race
    STATE = "state"  # query


def request_workflow_id(method: RequestMethod, bc_id: int, shop_id: int) -> str:
    """R6: one open workflow per (BC, shop, method); internal ids only, no names or e-mails."""
    return f"access-request:{method.value}:bc-{bc_id}:shop-{shop_id}"
