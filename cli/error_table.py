"""docs/errors.md, the one table of error codes, generated from the code that decides them.

Every fact in a row comes from where it is decided: the codes from ``ErrorCode``
(models/errors.py), the HTTP status from ``STATUS_OF`` (api/errors.py), the CLI's exit
status from ``failure_of`` (cli/failures.py), the English sentence from the wording
catalogue with the schema's example details (models/wording.py, ``api.errors.example_of``).
Only the "when" column is written here, once per code. tests/test_error_table.py fails
when docs/errors.md differs from what this module generates, or a code has no "when".

    .venv/bin/python -m cli.error_table --write    # regenerate docs/errors.md
    .venv/bin/python -m cli.error_table            # print it
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import click

from api.errors import STATUS_OF, example_of
from cli.failures import failure_of
from models.errors import ErrorCode, Refusal

E = ErrorCode
COMMITTED = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
REGENERATE = ".venv/bin/python -m cli.error_table --write"

API_ONLY = frozenset(
    {
        E.UNAUTHENTICATED,
        E.SCOPE_REQUIRED,
        E.RATE_LIMITED,
        E.IDEMPOTENCY_KEY_REUSED,
        E.IDEMPOTENCY_KEY_IN_FLIGHT,
        E.NOT_FOUND,
        E.METHOD_NOT_ALLOWED,
        E.UNKNOWN_REMOVAL,
    }
)
"""Codes only the HTTP API answers: its caller (token, key, rate, path) is refused."""

CLI_ONLY = frozenset({E.INTERRUPTED, E.CHECKS_FAILED})
"""Codes only the ops CLI prints: Ctrl-C and `doctor`."""

CLI_MESSAGES: dict[str, str] = {
    E.CHECKS_FAILED: "1 of 7 checks failed: schema",
}
"""The sentence of a CLI-only code that the wording catalogue does not hold."""

WHEN: dict[str, str] = {
    E.NOT_BC_ADMIN: "the actor is not an admin of the Business Center (R1)",
    E.BC_NOT_ELIGIBLE: "a direct or agency BC registered outside the eligible countries (R2)",
    E.SHOP_LOCATION_NOT_SUPPORTED: "the shop's location cannot be requested (R3)",
    E.DAILY_LIMIT_REACHED: (
        "the BC's 21st request today in its own timezone; says when the limit resets (R4)"
    ),
    E.UNKNOWN_SHOP_CODE: "a malformed or unknown shop code, one answer for both (R5)",
    E.REQUEST_ALREADY_PENDING: "the same request is already pending: resend it instead (R6)",
    E.ALREADY_HAS_ACCESS: (
        "the BC already holds the shop (R6); sharing with a BC that holds it (R17)"
    ),
    E.NOT_SHOP_TEAM: "the approver or decliner is not on the shop's team (R13, R22)",
    E.BC_ADMIN_REQUIRED: "S4, or an S3 choice of a BC the seller does not administer (R12)",
    E.REQUEST_NOT_PENDING: (
        "the request was already approved, declined, expired or cancelled (R11, R13)"
    ),
    E.RESEND_TOO_SOON: "an e-mail resend within 60 s of the previous resend (R8)",
    E.INVALID_INPUT: (
        "a malformed value, option, body or file; a missing scenario choice (R12); an id "
        "outside 1..2^63-1; a name with a control character or a bidirectional override; "
        "an e-mail address a validator refuses. `details` name the field"
    ),
    E.UNKNOWN_REQUEST: "no access request has that id",
    E.UNKNOWN_BC: "no Business Center has that id",
    E.UNKNOWN_USER: "no user has that e-mail address",
    E.SERVICE_UNAVAILABLE: (
        "Temporal or a worker did not answer in time; anything already accepted carries on"
    ),
    E.NOT_A_MEMBER: (
        "assigning someone who is not a member of the BC (invite them first), or a campaign "
        "in an ad account of a BC the user is not a member of (R16, R18)"
    ),
    E.PERMISSION_DENIED: (
        "a permission above the BC's own (R16, R17); a campaign without an assignment on "
        "the shop or a writing permission on the ad account (R18); answering an invitation "
        "sent to another address; removing access without the authority to (R19)"
    ),
    E.NOT_A_PARTNER: (
        "removing a BC that holds no partner grant on the shop (R19); sharing directly with "
        "a BC that is not yet a partner (R17)"
    ),
    E.INVITATION_NOT_PENDING: (
        "answering, cancelling or adding a shop to an invitation already accepted, declined "
        "or cancelled (R16, R17)"
    ),
    E.INVITATION_ALREADY_PENDING: (
        "inviting an address that already has a pending invitation to the BC (R16)"
    ),
    E.SHOP_NOT_HELD: (
        "assigning, sharing or a campaign with a shop the BC does not hold, including from "
        "the moment its access was removed (R16-R19)"
    ),
    E.ALREADY_A_MEMBER: "inviting someone who is already a member of the BC (R16)",
    E.UNKNOWN_INVITATION: "no invitation has that id",
    E.UNKNOWN_AD_ACCOUNT: "no such ad account, or an ad account of another BC",
    E.STORE_UNAVAILABLE: (
        "the store cannot be used: not a database, corrupt, locked past the busy timeout, "
        "no file at `DATABASE_URL`'s path, or the database server does not answer"
    ),
    E.USAGE_ERROR: (
        "the command line's shape is wrong (unknown command or option, a missing option or "
        "argument); the API maps it to 400 but answers a call's bad shape with `invalid_input`"
    ),
    E.INTERNAL_ERROR: (
        "an unexpected error, a bug: the message names it (`SHOP_ACCESS_DEBUG=1` prints the "
        "CLI's traceback; the API logs it)"
    ),
    E.INTERRUPTED: "Ctrl-C",
    E.CHECKS_FAILED: "`doctor` found a broken part; the message names the failed checks",
    E.INVALID_DATA: (
        "the store holds a value the code cannot use (a timezone that does not exist...): "
        "a fault, not a rule; the workflow ends failed (docs/operations.md)"
    ),
    E.BROKEN_INVARIANT: (
        "the store contradicts itself or the code (a row that must exist is missing): a "
        "fault; the workflow ends failed (docs/operations.md)"
    ),
    E.AUDIT_NOT_AN_EXPORT: "the file's first line is not an audit export's header (R27)",
    E.AUDIT_LINE_ALTERED: "a line's content does not match its hash (R27)",
    E.AUDIT_LINE_OUT_OF_CHAIN: "a line was removed before this one, or lines reordered (R27)",
    E.AUDIT_LINES_MISSING: "lines were cut from the file's end, or its trailer altered (R27)",
    E.AUDIT_STORE_MISMATCH: "a well-chained line differs from what the store recorded (R27)",
    E.AUDIT_CHAIN_BROKEN: "the store's own chain was changed outside the service (R27)",
    E.UNKNOWN_WEBHOOK: "no webhook subscription has that id (R26)",
    E.UNKNOWN_WEBHOOK_EVENT: "replaying an event the subscription has no delivery of (R26)",
    E.WEBHOOK_REMOVED: "replaying an event on a removed subscription (R26)",
    E.AUDIT_SIGNATURE_INVALID: (
        "an export's signed trailer does not hold: a file cut short with its trailer "
        "recomputed, an altered signature, or a key that did not sign it (R32)"
    ),
    E.UNKNOWN_AUDIT_KEY: "no audit signing key, current or retired, has that key id (R32)",
    E.END_DATE_TOO_LATE: (
        "a share's or assignment's end date later than the grantor BC's own, or none while "
        "the grantor has one; names both dates (R23)"
    ),
    E.END_DATE_PASSED: "an end date that has already passed (R23)",
    E.UNKNOWN_BULK: "no bulk request has that id, or it is past Temporal's retention (R24)",
    E.BULK_NOT_RUNNING: "cancelling a bulk request that completed or was cancelled (R24)",
    E.UNAUTHENTICATED: "no API token, or an unknown or revoked one (R26)",
    E.SCOPE_REQUIRED: "a `read` token on a call that acts (R26)",
    E.RATE_LIMITED: "the token's calls in the last minute reached its limit (R26)",
    E.IDEMPOTENCY_KEY_REUSED: "an Idempotency-Key first used for a different call",
    E.IDEMPOTENCY_KEY_IN_FLIGHT: "a repeat while the key's first call has not answered yet",
    E.NOT_FOUND: "no API route at that path",
    E.METHOD_NOT_ALLOWED: "the route exists but not with that method",
    E.UNKNOWN_REMOVAL: "no removal has that id (`GET /removals/{id}`, R19)",
}
"""code -> when it is answered, with the rule it enforces."""


def _exit_statuses() -> dict[str, int]:
    # Asked of the CLI's own mapping, so the table cannot drift from what it exits with.
    shapes = (click.UsageError("shape"), KeyboardInterrupt())
    return {str(f.code): f.exit_code for f in map(failure_of, shapes)}


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def message_of(code: ErrorCode) -> str:
    """The English sentence for ``code``, with the schema's example details."""
    if code in CLI_MESSAGES:
        return CLI_MESSAGES[code]
    if code == E.INTERRUPTED:
        return failure_of(KeyboardInterrupt()).message
    return str(example_of(str(code))["error"]["message"])


def rows() -> list[tuple[str, str, str, str, str]]:
    """(code, HTTP status, CLI exit status, message, when) per code, in catalogue order."""
    exits = _exit_statuses()
    found: list[tuple[str, str, str, str, str]] = []
    for code in ErrorCode:
        status = "—" if code in CLI_ONLY else str(STATUS_OF.get(str(code), "—"))
        refusal_exit = failure_of(Refusal(code)).exit_code
        exit_status = "—" if code in API_ONLY else str(exits.get(str(code), refusal_exit))
        when = WHEN.get(code, "(not documented yet: add it to cli/error_table.py WHEN)")
        found.append((f"`{code}`", status, exit_status, message_of(code), when))
    return found


def markdown() -> str:
    """docs/errors.md, whole."""
    head = [
        "# Error codes",
        "",
        "<!-- Generated by `" + REGENERATE + "` from models/errors.py,",
        "     models/wording.py, api/errors.py and cli/failures.py: edit those, not this. -->",
        "",
        "Every refusal and fault, at every entry, carries one of these stable codes: the ops",
        "CLI prints `Refused (code): message` or `Error (code): message` on stderr, or",
        '`{"error": {"code", "message", "details"}}` with `--json` (its contract:',
        "[operations.md](operations.md#the-clis-error-contract)); the HTTP API answers the",
        "same object with the status below ([api.md](api.md#errors)); the seller pages show",
        "the same sentence. Scripts branch on `code` (and on `details.reason` where a code has",
        "several sentences), never on the message.",
        "",
        "The messages are examples: `details` holds the values they name. A code marked `—`",
        "under HTTP is never answered by the API; under CLI, never printed by the CLI. Any",
        "other failure of the CLI exits 1.",
        "",
        "| code | HTTP | CLI exit | message (example) | when |",
        "| --- | --- | --- | --- | --- |",
    ]
    body = ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows()]
    return "\n".join([*head, *body]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate docs/errors.md from the code.")
    parser.add_argument("--write", action="store_true", help="write docs/errors.md")
    args = parser.parse_args(argv)
    text = markdown()
    if args.write:
        COMMITTED.write_text(text, encoding="utf-8")
        print(f"Wrote {COMMITTED}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
