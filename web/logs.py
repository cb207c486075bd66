"""Keep link tokens out of the logs.

A token in a URL is a bearer credential: whoever reads the access log could approve. The
filter rewrites any ``/approve/<token>`` path (and anything after it) to
``/approve/[token]`` before a record is formatted, on the access and error loggers alike.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

_TOKEN_PATH = re.compile(r"(/approve/)[^\s/?\"']+")
REDACTED = r"\1[token]"


def redact(text: str) -> str:
    return _TOKEN_PATH.sub(REDACTED, text)


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging set-up with the token filter on its loggers."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_tokens"] = {"()": RedactTokens}
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        config["loggers"].setdefault(name, {})["filters"] = ["redact_tokens"]
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_tokens"]
    return config


def install(logger_names: tuple[str, ...] = ("uvicorn.access", "uvicorn.error")) -> None:
    """Add the filter to already-configured loggers (an embedding server, the tests)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
