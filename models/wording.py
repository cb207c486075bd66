"""The sentences people read for refusal and fault codes: one catalogue.

A refusal carries its code and its details (ids, dates, counts); the sentence is made from
this catalogue, never written where the rule is checked. So the rules in ``store/`` hold no
prose, every entry point (CLI, pages, e-mails, API) shows the same words for the same code,
and a translation is one more catalogue.

Each entry is also a gettext message (R28): ``scripts/i18n extract`` reads this dict into
locale/messages.pot with the code as the message context, the stable id a translation hangs
on. Pages and e-mails pass the reader's ``locale``; the CLI and the ops API pass none and
stay English, with the code beside the sentence.

Templates use ``str.format`` fields named after the refusal's details. A detail a template
names but a refusal lacks is shown as ``?`` rather than failing: a missing word must never
turn a refusal into a crash.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any


def N_(message: str) -> str:
    """Marks English for the gettext catalogue where it is written (babel.cfg); it is
    translated where it is shown, in the reader's language (R28), so data stays English
    and the CLI and the ops API keep it as it is."""
    return message


CATALOGUE: dict[str, str] = {
    # --- requesting and approving (R1-R15) ---------------------------------------------
    # A code with several sentences has one entry per ``reason`` detail ("code.reason").
    "not_bc_admin.not_a_member": (
        "{email} is not a member of Business Center {bc_id} ({bc_name}); "
        "only its admins can do this."
    ),
    "not_bc_admin.standard_member": (
        "{email} is a standard member of Business Center {bc_id} ({bc_name}); "
        "ask an admin of that Business Center to make you a co-admin."
    ),
    "unknown_user": "No user with the e-mail {email!r} is known.",
    "unknown_bc": "Business Center {bc_id} does not exist.",
    "unknown_shop_code": (
        "No shop can be requested with that code. Check the shop code in Seller Center > "
        "My Account > Seller profile > Seller information."
    ),
    "bc_not_eligible": (
        "Business Center {bc_id} is a {bc_type} Business Center registered in {country}; "
        "requesting shop access is available to direct and agency Business Centers "
        "registered in {eligible_countries}, and to regular Business Centers anywhere."
    ),
    "shop_location_not_supported": (
        "Shops located in {location} cannot be requested from Business Center yet; "
        "cross-border shops and shops in {supported_locations} can."
    ),
    "already_has_access": (
        "Business Center {bc_id} already has access to shop {shop_code} "
        "({relationship}, {permission})."
    ),
    "request_already_pending": (
        "A request for shop {shop_code} is already pending approval ({request_id}); "
        "resend it instead of asking again."
    ),
    "daily_limit_reached": (
        "Business Center {bc_id} has made {limit} shop access requests today ({day}, "
        "{timezone}); the limit resets at midnight {timezone}, {resets_at}."
    ),
    "unknown_request": "There is no access request {request_id}.",
    "request_not_pending": ("Request {request_id} is {status}; only a pending request can change."),
    "request_not_pending.superseded": (
        "Request {request_id} is {status} because request {superseded_by} was approved "
        "first; only a pending request can change."
    ),
    "resend_too_soon": (
        "The request was resent by e-mail less than a minute ago; try again in "
        "{retry_after_seconds} seconds, or copy the link instead."
    ),
    "not_shop_team": (
        "{email} is not on the team of shop {shop_code}; only its owner, main admins and "
        "ad managers can approve access."
    ),
    "invalid_input.s1_bc_given": (
        "Shop {shop_code} is already linked to Business Center {linked_bc_id}; approve "
        "without choosing or creating one."
    ),
    "invalid_input.new_bc_name_missing": (
        "Enter a name (1-200 characters) for your new Business Center."
    ),
    "invalid_input.timezone_missing": "Pick a timezone for the new Business Center.",
    "invalid_input.timezone_unknown": (
        "{timezone!r} is not an IANA timezone (e.g. Asia/Singapore)."
    ),
    "invalid_input.s3_new_bc": (
        "You already administer a Business Center; pick one of yours instead of creating a new one."
    ),
    "invalid_input.s3_bc_missing": (
        "Pick one of the Business Centers you administer: {bc_choices}."
    ),
    "invalid_input.email_missing": "Enter your e-mail address.",
    "bc_admin_required.s3_not_admin": (
        "You are not an admin of Business Center {bc_id}. Pick one of the Business Centers "
        "you administer: {bc_choices}."
    ),
    "bc_admin_required.s4": (
        "To approve, you need admin access to your Business Center {seller_bcs}. Ask its "
        "admin ({bc_admins}) to make you an admin, then open this link again."
    ),
    "bc_admin_required.s4_no_admins": (
        "To approve, you need admin access to your Business Center {seller_bcs}. Ask its "
        "admin to make you an admin, then open this link again."
    ),
    # --- partner side (R16-R19) ----------------------------------------------------------
    # Raised through store/partner_refusals.py, which gives each the details it names.
    "not_a_member.assign": (
        "{email} is not a member of Business Center {bc_id} ({bc_name}); invite them first "
        "(invite-member), and assign them once they accept."
    ),
    # "<key>.page": the same refusal on a seller's page, which names no CLI command.
    "not_a_member.assign.page": (
        "{email} is not a member of Business Center {bc_id} ({bc_name}); invite them to it "
        "first, and give them the permission once they accept."
    ),
    "already_a_member": "{email} is already a member of Business Center {bc_id} ({bc_name}).",
    "invitation_already_pending": (
        "{email} already has a pending invitation ({invitation_id}) to Business Center "
        "{bc_id}; they can accept that one."
    ),
    "unknown_ad_account.not_of_bc": (
        "Ad account {ad_account_id} is not an ad account of Business Center {bc_id} ({bc_name})."
    ),
    "invalid_input.ad_account_listed_twice": "Ad account {ad_account_id} is listed twice.",
    "unknown_invitation": "There is no invitation {invitation_id}.",
    "invitation_not_pending": (
        "Invitation {invitation_id} is {status}; only a pending invitation can be answered "
        "or changed."
    ),
    "permission_denied.not_the_invitee": (
        "Invitation {invitation_id} was sent to another e-mail address; only its recipient "
        "can answer it."
    ),
    "unknown_shop_code.by_id": "No such shop.",
    "shop_not_held": (
        "Business Center {bc_id} ({bc_name}) has no access to shop {shop_code}; request "
        "access to the shop first."
    ),
    "permission_denied.above_held_to_members": (
        "Business Center {bc_id} ({bc_name}) holds {held} permission on shop {shop_code}, "
        "so its members get at most that; {permission} is higher."
    ),
    "permission_denied.above_held_to_partners": (
        "Business Center {bc_id} ({bc_name}) holds {held} permission on shop {shop_code}, "
        "so it can share it with at most that; {permission} is higher."
    ),
    "invalid_input.share_with_itself": "A Business Center cannot share with itself.",
    "already_has_access.partner_has_shop": (
        "Business Center {bc_id} ({bc_name}) already has access to shop {shop_code}."
    ),
    "not_a_partner.not_yet": (
        "Business Center {partner_bc_id} ({partner_bc_name}) is not yet a partner of "
        "{bc_name}; share-shop sends it an add-partner invitation instead."
    ),
    "not_a_partner.not_yet.page": (
        "Business Center {partner_bc_id} ({partner_bc_name}) is not yet a partner of "
        "{bc_name}; sharing the shop with it sends it an add-partner invitation instead."
    ),
    "invalid_input.already_a_partner": (
        "Business Center {partner_bc_id} is already a partner; the shop is shared at once."
    ),
    "unknown_ad_account": "There is no ad account {ad_account_id}.",
    "not_a_member.campaign": (
        "{email} is not a member of Business Center {bc_id} ({bc_name}), which owns ad "
        "account {ad_account_id}."
    ),
    "permission_denied.no_shop_permission": (
        "{email} holds no permission on shop {shop_code}; an admin of {bc_name} can assign "
        "them ad_promotion or manager (assign-member)."
    ),
    "permission_denied.no_shop_permission.page": (
        "{email} holds no permission on shop {shop_code}; an admin of {bc_name} can give "
        "them the Ad promotion or Manager permission."
    ),
    "permission_denied.no_campaign_permission": (
        "{email} may not create campaigns in ad account {ad_account_id}; it needs the admin "
        "or operator permission on that ad account."
    ),
    "permission_denied.not_removal_authority": (
        "{email} cannot remove partners of shop {shop_code}: only the shop's team (Seller "
        "Center partner management) or an admin of its owner Business Center can."
    ),
    "not_a_partner.of_shop": (
        "Business Center {bc_id} ({bc_name}) is not a partner of shop {shop_code}; there "
        "is no access to remove."
    ),
    "invalid_input.unknown_removal": "There is no removal {removal_id}.",
    "service_unavailable.no_client": "No Temporal client configured.",
    "invalid_input.no_email": "Give at least one e-mail address.",
    # --- faults and the entry points' own codes ------------------------------------------
    "service_unavailable.no_answer": (
        "No worker answered within {timeout_seconds} seconds; the service may be down. "
        "Anything already accepted carries on when it is back: check the status before "
        "trying again."
    ),
    "service_unavailable.failed": "The request failed: {error}",
    # --- audit and webhooks (R26, R27; docs/audit.md, docs/webhooks.md) -------------------
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
    "audit_signature_invalid": (
        "Line {line}, the signed trailer, does not verify with key {key_id}: the file was "
        "cut short or altered and its trailer recomputed, or its signature was altered."
    ),
    "audit_signature_invalid.digest": (
        "Line {line}, the signed trailer, signs other lines than the file holds: a line "
        "above it was rewritten."
    ),
    "audit_signature_invalid.unknown_key": (
        "Line {line}, the trailer, is signed by key {key_id}, which is not the key given "
        "({given}); `audit public-key --key-id {key_id}` gives the right one."
    ),
    "audit_signature_invalid.unsigned": (
        "Line {line}, the trailer, carries no signature: the file predates signed exports "
        "(format 1); verify it against the store instead."
    ),
    "invalid_input.public_key": "{path} is not an Ed25519 public key in PEM form.",
    "unknown_audit_key": "This store has no audit signing key {key_id}.",
    "unknown_webhook": "No webhook subscription has id {subscription_id}.",
    "unknown_webhook_event": (
        "Subscription {subscription_id} has no logged delivery of event {event_id}; "
        "`webhook deliveries` lists them."
    ),
    "webhook_removed": "Subscription {subscription_id} was removed; it sends nothing more.",
    # --- access until a date (R23) ------------------------------------------------------
    "end_date_too_late": (
        "The end date {ends_at} is later than the end of Business Center {bc_id}'s own "
        "access to shop {shop_code} ({own_ends_at}); pick {own_ends_at} or earlier."
    ),
    "end_date_passed": "The end date {ends_at} has already passed; pick a later one.",
    # --- bulk requests (R24) -----------------------------------------------------------
    "unknown_bulk": "There is no bulk request {bulk_id}.",
    "bulk_not_running": "Bulk request {bulk_id} is {status}; only a running one can be cancelled.",
    # --- decline (R22) and reminders (R25) -------------------------------------------
    "invalid_input.decline_reason_too_long": "The reason must be at most {max_length} characters.",
    "invalid_input.decline_reason_control_character": (
        "The reason must not contain control characters (found {character})."
    ),
    "invalid_input.bc_or_shop": (
        "Give exactly one of a Business Center (--bc on the CLI, bc_id in the API) or a "
        "shop code (--shop-code, shop_code)."
    ),
    # --- the ops HTTP API (R26, docs/api.md) -------------------------------------------
    "unauthenticated": (
        "Send a live API token as 'Authorization: Bearer <token>' (starter.py api-token create)."
    ),
    "scope_required": "This token lacks the '{scope}' scope this call needs.",
    "rate_limited": (
        "This token made {limit} calls in the last minute; try again in {retry_after} s."
    ),
    "idempotency_key_reused": (
        "Idempotency-Key {key!r} was first used for a different call; use a new key."
    ),
    "idempotency_key_in_flight": (
        "The first call with Idempotency-Key {key!r} has not answered yet; repeat it shortly."
    ),
    "not_found": "There is nothing at {path}.",
    "method_not_allowed": "{method} is not allowed on {path}.",
    # --- long operations over the API (R26) ---------------------------------------------
    "unknown_removal": "There is no removal {removal_id}.",
}
"""code (or "code.reason") -> template. Codes without an entry fall back to the message
given when raised."""


class _Lenient(string.Formatter):
    def get_value(self, key: int | str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        if isinstance(key, str):
            return kwargs.get(key, "?")
        return super().get_value(key, args, kwargs)

    def format_field(self, value: Any, format_spec: str) -> Any:
        # Details stay data (a list of e-mails for scripts); people read "a, b".
        if isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value)
        return super().format_field(value, format_spec)


_FORMATTER = _Lenient()


def key_for(code: str, details: Mapping[str, Any]) -> str | None:
    """The catalogue key for ``code``: "code.reason" when the ``reason`` detail has its own
    sentence, else the code; None when the code has no entry."""
    reason = details.get("reason")
    if reason is not None and f"{code}.{reason}" in CATALOGUE:
        return f"{code}.{reason}"
    return str(code) if str(code) in CATALOGUE else None


def template_for(
    code: str, details: Mapping[str, Any], locale: str | None = None, *, page: bool = False
) -> str | None:
    """The catalogue's template for ``code``, picked by the ``reason`` detail if any, in
    ``locale`` when given (an untranslated entry stays English); on a ``page``, its
    "<key>.page" wording when it has one (no CLI command named)."""
    key = key_for(code, details)
    if key is None:
        return None
    if page and f"{key}.page" in CATALOGUE:
        key = f"{key}.page"
    if locale is None:
        return CATALOGUE[key]
    # Imported here: the CLI and the API never load a catalogue.
    from models import i18n

    return i18n.pgettext(locale, key, CATALOGUE[key])


def fields_of(template: str) -> set[str]:
    """The detail names a template fills in."""
    return {name for _, name, _, _ in _FORMATTER.parse(template) if name}


def wording(
    code: str,
    details: Mapping[str, Any],
    fallback: str | None = None,
    locale: str | None = None,
    *,
    page: bool = False,
) -> str:
    """The sentence for ``code`` with ``details`` filled in, in ``locale`` if given (on a
    ``page``: its page wording, see ``template_for``)."""
    template = template_for(str(code), details, locale, page=page)
    if template is None:
        return fallback if fallback is not None else str(code).replace("_", " ").capitalize()
    if fallback is not None and not fields_of(template) <= details.keys():
        # Raised with its own words but without the details the template needs (an older
        # workflow's error, a partner-side site): its words say more than "?" would.
        return fallback
    return _FORMATTER.format(template, **details)
