"""Process-wide logging for the worker and the link handler: ``LOG_FORMAT=text`` (the
default, for the quick start) or ``json`` (one object per line, for a log pipeline).

JSON lines carry ``time``, ``level``, ``logger``, ``message`` and, where they apply,
``workflow_id``, ``run_id``, ``request_id``, ``activity_type`` and ``attempt``
(``runtime.log_context``). Both formats scrub the finished line: link tokens
(``runtime.log_redaction.redact``), session cookies and e-mail addresses never reach the output,
whichever logger wrote them or however they were formatted.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter
from temporalio import activity, workflow
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from runtime.log_context import CONTEXT_FIELDS, LogContextFilter
from runtime.log_redaction import redact

LogFormat = Literal["text", "json"]

# Anything shaped like an address: people type them into forms, and the logs outlive the
# purpose they were typed for.
_ADDRESS = re.compile(r"[\w.+%'-]+@[\w-]+(?:\.[\w-]+)+")
_COOKIE = re.compile(r"(shop_access_\w+=)[^\s;,\"']+")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def scrub(line: str) -> str:
    """The finished line without link tokens, cookie values or e-mail addresses."""
    return _ADDRESS.sub("[address]", _COOKIE.sub(r"\1[cookie]", redact(line)))


class ScrubbedTextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class ScrubbedJsonFormatter(JsonFormatter):
    """python-json-logger's formatter with our field names and the scrub pass."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            # The flat context fields replace Temporal's nested dicts; color_message is
            # uvicorn's ANSI duplicate of the message.
            reserved_attrs=[
                *RESERVED_ATTRS,
                "temporal_workflow",
                "temporal_activity",
                "temporal_log",  # the SDK core's record; its fields are in the message
                "color_message",
            ],
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # ISO 8601 in UTC with milliseconds: log pipelines order and join on it.
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        for name in CONTEXT_FIELDS:  # only where they apply
            if log_data.get(name) is None:
                log_data.pop(name, None)

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def make_handler(log_format: LogFormat, stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(LogContextFilter())
    handler.setFormatter(
        ScrubbedJsonFormatter() if log_format == "json" else ScrubbedTextFormatter(TEXT_FORMAT)
    )
    return handler


def configure_logging(log_format: LogFormat, level: int = logging.INFO, stream: Any = None) -> None:
    """One handler on the root logger (stderr unless ``stream``); all else propagates."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(make_handler(log_format, stream))
    root.setLevel(level)
    if log_format == "json":
        # uvicorn's own handlers (from an earlier dictConfig in this process) would write
        # text beside the JSON and keep the access log from the root handler.
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            server_logger = logging.getLogger(name)
            for old in list(server_logger.handlers):
                server_logger.removeHandler(old)
            server_logger.propagate = True
        # The context is in fields: Temporal need not append it to every message too.
        workflow.logger.workflow_info_on_message = False
        activity.logger.activity_info_on_message = False


def core_logging(log_format: LogFormat) -> LoggingConfig:
    """How the Temporal SDK's Rust core logs: to stderr in its own format by default; with
    JSON, through Python logging (logger ``temporalio.core``), so every line is JSON."""
    if log_format != "json":
        return LoggingConfig.default
    return LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
    )


def forward_core_logs(log_format: LogFormat) -> None:
    """For an entry point, before any Temporal client: clients made without a runtime of
    their own log through ``core_logging(log_format)``."""
    if log_format == "json":
        runtime = Runtime(telemetry=TelemetryConfig(logging=core_logging(log_format)))
        Runtime.set_default(runtime, error_if_already_set=False)
