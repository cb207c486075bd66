"""Keep bearer tokens out of the logs.

A token in a URL is a credential: whoever reads the access log could approve a request or
accept an invitation. :class:`RedactTokens` rewrites, in a record's message, arguments
and traceback, before it is formatted:

- the path segment of every route that takes a token (``/approve/<token>``,
  ``/invitations/<token>``, …), found from the app's own routes (:func:`token_prefixes`),
  so a new route with a ``{token}`` parameter cannot be forgotten;
- the value of any token-ish query parameter (``?token=…``, ``csrf``, ``session``, …);
- an ops API token (``sa_…``) anywhere, and what follows ``Bearer`` (R26);
- anything shaped like an itsdangerous signature anywhere (a token pasted elsewhere in a
  path, a session cookie value): a run of URL-safe base64, a dot, and 27 or more more.

``uvicorn_log_config(app)`` puts the filter on every handler, the root logger's included,
so uvicorn's access and error logs and the app's own loggers all pass through it.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any

from starlette.routing import BaseRoute, Route

TOKEN_PARAMS = ("token",)
"""Path parameters that carry a bearer token."""

DEFAULT_PREFIXES = ("/approve/", "/invitations/", "/language/")
"""The token routes this app has; the app's own routes add any new one (token_prefixes)."""

TOKEN_QUERY_PARAMS = ("token", "t", "csrf", "session", "sig", "signature", "key", "code")
MARK = "[token]"

_SEGMENT = r"[^\s/?#\"'&]+"
# An itsdangerous token: payload, optional timestamp, and an HMAC-SHA1 of 27 characters
# or more (longer digests too), all URL-safe base64.
_SIGNED = re.compile(r"\.?[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]{4,})?\.[A-Za-z0-9_-]{27,}")
# The ops API's bearer secrets (store/api_tokens.py, "sa_" + 43 URL-safe characters),
# wherever they appear, and whatever follows "Bearer" in a quoted Authorization header.
_API_SECRET = re.compile(r"\bsa_[A-Za-z0-9_-]{16,}")
# A "%s" after it is a log call's format string, left for its argument to fill (and be
# redacted by the same filter).
_BEARER = re.compile(r"(\bBearer\s+)(?!%)[^\s\"',;]+", flags=re.IGNORECASE)
_QUERY = re.compile(
    r"([?&;](?:" + "|".join(TOKEN_QUERY_PARAMS) + r")=)[^\s&;#\"']*", flags=re.IGNORECASE
)


def route_paths(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[str]:
    """Every endpoint path of an app, included routers and mounts walked into."""
    for route in routes:
        path = getattr(route, "path", None)
        if isinstance(route, Route):
            yield prefix + route.path
        # FastAPI keeps an included router as one route that wraps it (0.16x).
        nested = getattr(route, "original_router", None)
        if nested is not None:
            context = getattr(route, "include_context", None)
            yield from route_paths(nested.routes, prefix + str(getattr(context, "prefix", "")))
        elif isinstance(path, str) and isinstance(getattr(route, "routes", None), list):
            yield from route_paths(route.routes, prefix + path)  # type: ignore[attr-defined]


def token_prefixes(routes: Iterable[BaseRoute]) -> list[str]:
    """The start of every route path that has a token parameter, up to it."""
    found: list[str] = []
    for path in route_paths(routes):
        for param in TOKEN_PARAMS:
            marker = "{" + param
            if marker in path:
                found.append(path.split(marker, 1)[0])
    return found


def _path_pattern(prefixes: Iterable[str]) -> re.Pattern[str]:
    parts = []
    for prefix in sorted(set(prefixes), key=len, reverse=True):
        # Other parameters before the token match any one segment.
        parts.append(_SEGMENT.join(re.escape(p) for p in re.split(r"\{[^}]*\}", prefix)))
    return re.compile("(" + "|".join(parts) + ")" + _SEGMENT)


class RedactTokens(logging.Filter):
    def __init__(self, prefixes: Iterable[str] = DEFAULT_PREFIXES) -> None:
        super().__init__()
        self._paths = _path_pattern([*DEFAULT_PREFIXES, *prefixes])

    def redact(self, text: str) -> str:
        text = self._paths.sub(r"\1" + MARK, text)
        text = _QUERY.sub(r"\1" + MARK, text)
        text = _BEARER.sub(r"\1" + MARK, _API_SECRET.sub(MARK, text))
        return _SIGNED.sub(MARK, text)

    def _value(self, value: Any) -> Any:
        return self.redact(value) if isinstance(value, str) else value

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._value(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: self._value(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text: an exception's message may quote a URL.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


_DEFAULT = RedactTokens()


def redact(text: str) -> str:
    """``text`` with every token this app's routes take (and any signed token) hidden."""
    return _DEFAULT.redact(text)


def uvicorn_log_config(app: Any = None) -> dict[str, Any]:
    """uvicorn's own logging set-up with the token filter on every handler, the root
    logger (app and library loggers) sent to the same stream through it. ``app``: a
    Starlette/FastAPI app whose token routes are redacted besides the known ones."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    prefixes = token_prefixes(app.routes) if app is not None else []
    config.setdefault("filters", {})["redact_tokens"] = {
        "()": RedactTokens,
        "prefixes": prefixes,
    }
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        config["loggers"].setdefault(name, {})["filters"] = ["redact_tokens"]
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_tokens"]
    # Records of other loggers (the app's, temporalio's) reach the root's handler, which
    # redacts too; without it they would meet logging's filterless last resort.
    config["root"] = {"handlers": ["default"], "level": "WARNING"}
    return config


def install(
    logger_names: tuple[str, ...] = ("uvicorn.access", "uvicorn.error"), app: Any = None
) -> None:
    """Add the filter to already-configured loggers (an embedding server, the tests)."""
    prefixes = token_prefixes(app.routes) if app is not None else []
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens(prefixes))
