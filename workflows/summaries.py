"""The one-line stories ops read in the Temporal UI (R21): each workflow's current details
say what happened, to what, and who did it, in the words of the seller's history
(store/history.py). Pure functions of the workflow's own input and state: no I/O, and
``set_current_details`` is no command, so changing these words never breaks a replay."""

from __future__ import annotations


def removal_details(
    *,
    status: str,
    partner_bc_id: int,
    shop_code: str,
    by: str,
    campaigns_stopped: int,
    removal_id: str,
) -> str:
    """R19: which BC lost which shop, removed by whom, and how far the stopping got."""
    return (
        f"**{status}** · access removed by {by}: BC {partner_bc_id} from shop {shop_code}"
        f" · {campaigns_stopped} campaign{'' if campaigns_stopped == 1 else 's'} stopped"
        f" · removal {removal_id}"
    )


def request_details(
    *,
    status: str,
    method_label: str,
    bc_id: int,
    shop_code: str,
    request_id: str,
    superseded_by: str | None = None,
) -> str:
    """A request's status line; an expired one names the request that won the race (R11).
    For workflows/request_lifecycle.py's ``_describe`` (its owner wires it in)."""
    details = (
        f"**{status}** · {method_label} · BC {bc_id} → shop {shop_code} · request {request_id}"
    )
    if status == "expired" and superseded_by:
        details += f" · {superseded_by} was approved first"
    return details
