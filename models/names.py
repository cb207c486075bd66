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
    DECIDE_AND_GRANT = "store.decide_and_grant"
    SEND_REQUEST_EMAILS = "mail.send_request_emails"
    NOTIFY_REQUESTER = "mail.notify_requester"
    SEND_PERSONAL_LINK = "mail.send_personal_link"
    DECLINE_REQUEST = "store.decline_request"  # R22
    SEND_REMINDER = "mail.send_reminder"  # R25


class Message:
    ADMISSION = "admission"  # update, sent with start
    APPROVE = "approve"  # update
    APPROVE_SIGNAL = "approve_from_ui"  # signal, for the Temporal UI's "Send signal"
    RESEND = "resend"  # update
    CANCEL = "cancel"  # update
    SUPERSEDED = "superseded"  # signal, from the request that won the race
    SEND_PERSONAL_LINK = "send_personal_link"  # update, from the copied link
    DECLINE = "decline"  # update: the shop team says no (R22)
    STATE = "state"  # query


def request_workflow_id(method: RequestMethod, bc_id: int, shop_code: str) -> str:
    """R6: one open workflow per (BC, shop, method).

    E.g. ``add-my-shop:bc-7100000000000000001:shop-USADMIN003``: an operator reads the BC
    id and the shop code the seller knows; no names or e-mails. Shop codes are unique and
    stored upper-case, and loading never renames a shop, so the id is stable. The prefix
    differs from the earlier ``access-request:<method>:bc-<id>:shop-<row id>`` ids, so the
    two forms never collide; R6 holds across them because the store refuses a second
    pending request anyway.
    """
    return f"{method.value.replace('_', '-')}:bc-{bc_id}:shop-{shop_code.upper()}"


# --- partner side (R16-R19) ------------------------------------------------------------


class PartnerWorkflowType:
    MEMBER_INVITATION = "MemberInvitation"
    PARTNER_INVITATION = "PartnerInvitation"
    REMOVE_ACCESS = "RemovePartnerAccess"


class PartnerActivity:
    CREATE_MEMBER_INVITATION = "partners.create_member_invitation"
    OFFER_PARTNER_SHOP = "partners.offer_partner_shop"
    ACCEPT_INVITATION = "partners.accept_invitation"
    DECLINE_INVITATION = "partners.decline_invitation"
    CANCEL_INVITATION = "partners.cancel_invitation"
    SEND_INVITATION_EMAILS = "mail.send_invitation_emails"
    END_GRANTS = "partners.end_grants"
    STOP_CAMPAIGN_PAGE = "campaigns.stop_page"
    FINISH_REMOVAL = "partners.finish_removal"
    NOTIFY_REMOVAL = "mail.notify_access_removed"
    ARM_ACCESS_END = "partners.arm_access_end"  # R23: an accepted share's timer


class PartnerMessage:
    ADMISSION = "admission"  # update, sent with start (member invitation)
    OFFER_SHOP = "offer_shop"  # update, sent with start (partner invitation): add a shop
    ACCEPT = "accept"  # update
    DECLINE = "decline"  # update
    CANCEL = "cancel"  # update
    STATE = "state"  # query
    END_GRANTS = "end_grants"  # update, sent with start (removal): the grants are ended
    PROGRESS = "progress"  # query (removal)


class EndDateName:
    """R23: the workflow that ends an access on its date, and its messages."""

    WORKFLOW = "AccessEnd"
    ASSIGNMENT_WORKFLOW = "AssignmentEnd"
    SET_END_DATE = "set_end_date"  # signal: the store's new end date, or None once cleared
    STATE = "state"  # query
    REMIND = "end_date.remind"  # activity
    END_GRANT = "end_date.end_grant"  # activity
    END_ASSIGNMENT = "end_date.end_assignment"  # activity
    REMIND_ASSIGNMENT = "end_date.remind_assignment"  # activity: the holder, 3 days before


def access_end_workflow_id(grant_id: int) -> str:
    """R23: one timer per grant with an end date; changing the date signals this one."""
    return f"access-end:grant-{grant_id}"


def assignment_end_workflow_id(assignment_id: int) -> str:
    return f"assignment-end:{assignment_id}"


def member_invitation_workflow_id(bc_id: int, invitation_id: str) -> str:
    return f"member-invitation:bc-{bc_id}:{invitation_id}"


def partner_invitation_workflow_id(bc_id: int, partner_bc_id: int) -> str:
    """One open add-partner invitation per (BC, partner BC); later shares join it (R17)."""
    return f"partner-invitation:bc-{bc_id}:partner-{partner_bc_id}"


def removal_workflow_id(shop_id: int, partner_bc_id: int, grant_id: int) -> str:
    """R19: one removal per partner grant; a second click joins the first."""
    return f"remove-access:shop-{shop_id}:bc-{partner_bc_id}:{grant_id}"


# --- webhooks (R26) -------------------------------------------------------------------------


class WebhookWorkflowType:
    DISPATCHER = "WebhookDispatcher"


class WebhookActivity:
    WAIT_FOR_EVENTS = "webhooks.wait_for_events"
    DELIVER = "webhooks.deliver"
    GIVE_UP = "webhooks.give_up"


def webhook_dispatcher_id(subscription_id: str) -> str:
    return f"webhook-dispatcher:{subscription_id}"


def webhook_task_queue(task_queue: str) -> str:
    """Where the dispatchers' activities run: a queue of their own, served by a worker
    whose slots are coroutines, so idle subscriptions never hold the slots that e-mails
    and grants need (worker.py)."""
    return f"{task_queue}-webhooks"


# --- bulk requests (R24) -------------------------------------------------------------


class BulkWorkflowType:
    BULK_REQUEST = "BulkAccessRequest"


class BulkActivity:
    ADMIT_ONE = "bulk.admit_one"


class BulkMessage:
    PROGRESS = "progress"  # query: BulkProgress
    CANCEL = "cancel"  # update: CancelBulk -> BulkProgress


def bulk_workflow_id(bulk_id: str) -> str:
    """One workflow per bulk id; ``bulk-status ID`` finds it from the id alone."""
    return f"bulk-request:{bulk_id}"
