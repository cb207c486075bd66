"""Only the exact canonical form of a signed token is genuine, under any key still trusted.

itsdangerous verifies the HMAC over the decoded signature, and its base64 decoding is
lenient: it pads the text itself, ignores the unused low bits of the last character
(``…o`` and ``…p`` decode alike) and drops non-ASCII characters. So a handful of byte
strings other than the one we issued verify as genuine. :func:`is_canonical` refuses all
of them: every dot-separated part must be unpadded URL-safe base64 that re-encodes to
exactly itself. A token is then one byte string, and a changed character is a forged
link, whichever character it is.

Keys: ``keys`` is oldest to newest; the newest signs and all of them verify, so a new
SECRET_KEY does not void the links already mailed (docs/operations.md, key rotation).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode

Keys = str | Sequence[str]
"""One secret, or the secrets still trusted, oldest first (the last one signs)."""

# Parts of URL-safe base64 without padding; a compressed payload starts with a dot.
_SHAPE = re.compile(r"\.?[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+")
MAX_TOKEN_CHARS = 2048
"""Longer than any token this service issues; longer strings are refused unread."""


def is_canonical(token: str) -> bool:
    """True if ``token`` is the one encoding its parts have (no padding, no spare bits)."""
    if len(token) > MAX_TOKEN_CHARS or _SHAPE.fullmatch(token) is None:
        return False
    for part in token.lstrip(".").split("."):
        try:
            if base64_encode(base64_decode(part)) != part.encode("ascii"):
                return False
        except Exception:  # itsdangerous.BadData and binascii errors alike
            return False
    return True


def key_list(keys: Keys) -> list[str]:
    listed = [keys] if isinstance(keys, str) else list(keys)
    if not listed or not all(listed):
        raise ValueError("at least one non-empty secret key is needed")
    return listed


class StrictSerializer:
    """``URLSafeSerializer`` that refuses every non-canonical token (no expiry)."""

    def __init__(self, keys: Keys, salt: str) -> None:
        self._serializer = URLSafeSerializer(key_list(keys), salt=salt)

    def dumps(self, payload: Any) -> str:
        return str(self._serializer.dumps(payload))

    def loads(self, token: str) -> Any:
        """The payload of a genuine token; ``BadSignature`` for anything else."""
        if not is_canonical(token):
            raise BadSignature("not a canonical token")
        return self._serializer.loads(token)


class StrictTimedSerializer:
    """``URLSafeTimedSerializer`` that refuses every non-canonical token."""

    def __init__(self, keys: Keys, salt: str) -> None:
        self._serializer = URLSafeTimedSerializer(key_list(keys), salt=salt)

    def dumps(self, payload: Any) -> str:
        return str(self._serializer.dumps(payload))

    def loads(self, token: str, max_age: int) -> Any:
        """The payload of a genuine, fresh token; ``SignatureExpired`` when too old and
        ``BadSignature`` for anything else."""
        if not is_canonical(token):
            raise BadSignature("not a canonical token")
        return self._serializer.loads(token, max_age=max_age)
