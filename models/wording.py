"""The sentences people read for refusal and fault codes: one catalogue.

A refusal carries its code and its details (ids, dates, counts); the sentence is made from
this catalogue, never written where the rule is checked. So the rules in ``store/`` hold no
prose, every entry point (CLI, pages, e-mails, API) shows the same words for the same code,
and a translation is one more catalogue.

Templates use ``str.format`` fields named after the refusal's details. A detail a template
names but a refusal lacks is shown as ``?`` rather than failing: a missing word must never
turn a refusal into a crash.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

CATALOGUE: dict[str, str] = {
    # --- requesting and approving (R1-R15) ---------------------------------------------
    # --- partner side (R16-R19) ----------------------------------------------------------
    # --- faults and the entry points' own codes ------------------------------------------
    # --- audit and webhooks (R26, R27; docs/audit.md) -------------------------------------
    "audit_not_an_export": "Line {line} is not the header of an audit export.",
    "audit_line_altered": "Line {line} was altered: its content does not match its hash.",
    "audit_line_out_of_chain": (
        "Line {line} does not follow the line before it: a line before it was removed, "
        "or lines were reordered."
    ),
    "audit_lines_missing": (
        "The file ends early at line {line}: lines were removed from its end, or its "
        "trailer was altered."
    ),
    "audit_store_mismatch": (
        "Line {line} is not what the store recorded: the file was rewritten, or it comes "
        "from another store."
    ),
    "audit_chain_broken": (
        "The store's audit chain breaks at change {seq}: a row was altered, removed or "
        "inserted outside the service."
    ),
    "unknown_webhook": "No webhook subscription has id {subscription_id}.",
    "unknown_webhook_event": (
        "Subscription {subscription_id} has no logged delivery of event {event_id}; "
        "`webhook deliveries` lists them."
    ),
    "webhook_removed": "Subscription {subscription_id} was removed; it sends nothing more.",
}
"""code -> template. Codes without an entry fall back to the message given when raised."""


class _Lenient(string.Formatter):
    def get_value(self, key: int | str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        if isinstance(key, str):
            return kwargs.get(key, "?")
        return super().get_value(key, args, kwargs)


_FORMATTER = _Lenient()


def wording(code: str, details: Mapping[str, Any], fallback: str | None = None) -> str:
    """The sentence for ``code`` with ``details`` filled in."""
    template = CATALOGUE.get(str(code))
    if template is None:
        return fallback if fallback is not None else str(code).replace("_", " ").capitalize()
    return _FORMATTER.format(template, **details)
