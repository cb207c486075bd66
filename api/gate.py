"""What every API call passes before its route: the bearer token, its rate, and the
``Idempotency-Key`` of a POST (docs/api.md).

Pure ASGI, so it sees the body before the route and the answer after it (refusals
included: the API's exception handlers answer inside it). Store work runs in a thread:
the link handler's event loop also serves sellers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import timedelta

from anyio import to_thread
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError, error_response
from client.access_requests import DEFAULT_TIMEOUT_SECONDS
from client.context import ClientContext
from models.errors import ErrorCode
from store import idempotency
from store.api_tokens import TokenCheck, check_call

OPEN_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect"})
KEY_HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
WINDOW = timedelta(minutes=1)
# How far past the call's own deadline (the wait on a worker) a key's claim holds: the
# store work before and after that wait, on a loaded machine.
LEASE_MARGIN = timedelta(seconds=5)


@dataclass(frozen=True)
class Caller:
    """The token behind a call; routes check its scopes (api/deps.py). ``call_seed``: the
    same for every attempt of a keyed POST (store/idempotency.py), None without a key."""

    token: TokenCheck
    call_seed: str | None = None


class ApiGate:
    def __init__(self, app: ASGIApp, state: ClientContext) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _local_path(scope) in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            check = await self._authenticate(headers)
        except ApiError as err:
            await error_response(err)(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = Caller(check)
        key = headers.get(KEY_HEADER)
        if scope["method"] != "POST" or key is None:
            await self.app(scope, receive, send)
            return
        await self._once(scope, receive, send, check.token_id, key)

    async def _authenticate(self, headers: Headers) -> TokenCheck:
        scheme, _, secret = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise ApiError(ErrorCode.UNAUTHENTICATED, headers={"WWW-Authenticate": "Bearer"})
        limit = self.state.settings.api_calls_per_minute
        check = await to_thread.run_sync(
            lambda: check_call(self.state.engine, secret.strip(), limit=limit, window=WINDOW)
        )
        if check is None:
            raise ApiError(ErrorCode.UNAUTHENTICATED, headers={"WWW-Authenticate": "Bearer"})
        if not check.allowed:
            raise ApiError(
                ErrorCode.RATE_LIMITED,
                headers={"Retry-After": str(check.retry_after)},
                limit=limit,
                retry_after=check.retry_after,
            )
        return check

    async def _once(self, scope: Scope, receive: Receive, send: Send, token: str, key: str) -> None:
        """Run a keyed POST once; a repeat gets the first answer, a different call with
        the same key is refused."""
        if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
            refused = ApiError(
                ErrorCode.INVALID_INPUT,
                f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
                field="Idempotency-Key",
            )
            await error_response(refused)(scope, receive, send)
            return
        body, replay = await _read_body(receive)
        fingerprint = hashlib.sha256(
            scope["path"].encode() + b"\0" + (scope.get("query_string") or b"") + b"\0" + body
        ).hexdigest()
        engine = self.state.engine
        claim = await to_thread.run_sync(
            idempotency.claim, engine, token, key, fingerprint, self._lease()
        )
        if not isinstance(claim, idempotency.Claimed):
            await _answer_again(claim, key)(scope, receive, send)
            return
        state = scope["state"]
        state["caller"] = replace(state["caller"], call_seed=claim.seed)
        answer = _Recorder(send)
        try:
            await self.app(scope, replay, answer.send)
        finally:
            if answer.keeps:
                await to_thread.run_sync(
                    idempotency.remember,
                    engine,
                    token,
                    key,
                    answer.status,
                    answer.body.decode(),
                    answer.location,
                )
            else:
                await to_thread.run_sync(idempotency.release, engine, token, key)

    def _lease(self) -> timedelta:
        """A little past the call's own deadline: a claim held longer than that belongs
        to a link handler that died mid-call, and a retry may take it over."""
        services = (self.state.service, self.state.partner_service)
        deadline = max(
            (s.timeout for s in services if s is not None), default=DEFAULT_TIMEOUT_SECONDS
        )
        return timedelta(seconds=deadline) + LEASE_MARGIN


def _local_path(scope: Scope) -> str:
    """The path inside the API: a mount keeps the full path and names its prefix in
    ``root_path`` (Starlette 0.33+), older ones strip it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # a disconnect, if the client goes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


def _answer_again(claim: idempotency.Claim, key: str) -> ASGIApp:
    if isinstance(claim, idempotency.Answered):
        headers = {"Idempotent-Replayed": "true"}
        if claim.location:
            headers["Location"] = claim.location
        return Response(
            claim.body,
            status_code=claim.status_code,
            media_type="application/json",
            headers=headers,
        )
    code = (
        ErrorCode.IDEMPOTENCY_KEY_REUSED
        if isinstance(claim, idempotency.Mismatch)
        else ErrorCode.IDEMPOTENCY_KEY_IN_FLIGHT
    )
    return error_response(ApiError(code, key=key))


class _Recorder:
    """Passes the answer on and keeps a copy; an answer worth keeping is any but a fault
    (5xx), which a retry should be allowed to heal."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 0
        self.location: str | None = None
        self._body: list[bytes] = []
        self.complete = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.location = Headers(raw=message.get("headers", [])).get("location")
        elif message["type"] == "http.response.body":
            self._body.append(message.get("body", b""))
            self.complete = not message.get("more_body", False)
        await self._send(message)

    @property
    def body(self) -> bytes:
        return b"".join(self._body)

    @property
    def keeps(self) -> bool:
        if not self.complete or self.status >= 500 or self.status == 0:
            return False
        try:
            json.loads(self.body or b"null")
        except ValueError:
            return False
        return True
