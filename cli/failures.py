"""The CLI's error contract, kept in one place: every failure of every command, usage
errors included, ends here.

- With ``--json`` (wherever it stands on the command line, even after the bad option):
  exactly one ``{"error": {"code", "message"}}`` object on stdout.
- Without: one line on stderr, never a traceback (``SHOP_ACCESS_DEBUG=1`` adds the
  traceback of an unexpected error, for developers).
- Exit status: 2 when the command line's shape is wrong (``usage_error``: unknown
  command or option, missing option or argument); 130 when interrupted; 1 for the rest
  (a refused value is ``invalid_input``; refusals by the rules; ``store_unavailable``;
  ``service_unavailable``, Temporal errors included; ``internal_error``).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import click

from models.errors import ErrorCode, Refusal
from models.fields import ids_as_strings
from store.db import StoreUnavailable

DEBUG_ENV = "SHOP_ACCESS_DEBUG"
_FAULTS = frozenset(
    {
        ErrorCode.USAGE_ERROR,
        ErrorCode.STORE_UNAVAILABLE,
        ErrorCode.SERVICE_UNAVAILABLE,
        ErrorCode.INTERNAL_ERROR,
        ErrorCode.INTERRUPTED,
    }
)


@dataclass(frozen=True)
class Failure:
    code: str
    message: str
    exit_code: int = 1
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


def _usage_hint(err: click.UsageError) -> str:
    path = err.ctx.command_path if err.ctx is not None else "starter.py"
    return f"{err.format_message().rstrip('.')} (see `{path} --help`)."


def failure_of(err: BaseException) -> Failure:
    """The code, message and exit status reported for ``err``."""
    if isinstance(err, Refusal):
        return Failure(err.code, err.message, details=err.details)
    if isinstance(err, StoreUnavailable):
        return Failure(ErrorCode.STORE_UNAVAILABLE, err.message)
    if isinstance(err, click.MissingParameter):  # before BadParameter, its base class
        return Failure(ErrorCode.USAGE_ERROR, _usage_hint(err), exit_code=2)
    if isinstance(err, click.BadParameter):
        return Failure(ErrorCode.INVALID_INPUT, err.format_message())
    if isinstance(err, click.UsageError):
        return Failure(ErrorCode.USAGE_ERROR, _usage_hint(err), exit_code=2)
    if isinstance(err, click.ClickException):
        return Failure(ErrorCode.INVALID_INPUT, err.format_message())
    rpc = sys.modules.get("temporalio.service")  # loaded only by commands that use Temporal
    if rpc is not None and isinstance(err, rpc.RPCError):
        return Failure(
            ErrorCode.SERVICE_UNAVAILABLE,
            f"Temporal answered {err.status.name}: {err.message}. Check the server, "
            "TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE, and that a worker is running.",
        )
    if isinstance(err, click.Abort | KeyboardInterrupt):
        return Failure(ErrorCode.INTERRUPTED, "Interrupted.", exit_code=130)
    return Failure(
        ErrorCode.INTERNAL_ERROR,
        f"Unexpected {type(err).__name__}: {err} (set {DEBUG_ENV}=1 for the traceback).",
    )


def report(failure: Failure, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(ids_as_strings(failure.to_dict()), default=str))  # R30
        return
    kind = "Error" if failure.code in _FAULTS else "Refused"
    line = " ".join(failure.message.split())  # one line, whatever the message holds
    click.echo(f"{kind} ({failure.code}): {line}", err=True)


class ShopAccessGroup(click.Group):
    """The top-level group: runs a command and reports any failure by the contract."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> NoReturn:
        argv = list(sys.argv[1:] if args is None else args)
        try:
            status = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except SystemExit:
            raise
        except click.exceptions.NoArgsIsHelpError as err:
            err.show()  # no command at all: the help, as click shows it
            sys.exit(err.exit_code)
        except BaseException as err:
            failure = failure_of(err)
            if failure.code == ErrorCode.INTERNAL_ERROR and os.environ.get(DEBUG_ENV) == "1":
                traceback.print_exception(err, file=sys.stderr)
            report(failure, as_json="--json" in argv)
            sys.exit(failure.exit_code)
        sys.exit(status if isinstance(status, int) else 0)
