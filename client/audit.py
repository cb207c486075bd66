"""The audit export and its verification (R27, R32, docs/audit.md) for the CLI and the
API alike: which scope, the export's signed text, what a checked file covers (against the
store, or offline with a public key), the public keys, the hash an export ends with and
the store's own chain checked. Store reads only, but for the signing key: the first
export makes it, ``rotate_key`` makes the next."""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from models.errors import ErrorCode, Refusal
from models.fields import require_bc_or_shop
from models.tables import utcnow
from models.views import ScopeView
from store import audit as chain
from store import audit_keys
from store.audit_export import Scope, changes, export, verify_lines
from store.db import read_session


def pick_scope(shop_code: str | None, bc_id: int | None) -> Scope:
    """Exactly one of a shop (by code, any case) or a Business Center."""
    require_bc_or_shop(bc_id, shop_code)
    return Scope(shop_code=shop_code.strip().upper() if shop_code else None, bc_id=bc_id)


def parse_since(text: str) -> datetime:
    """An ISO date or date-time; without an offset it is UTC (as the CLI's ``--since``)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Refusal(
            ErrorCode.INVALID_INPUT,
            "since must be an ISO date or date-time (2026-12-01, 2026-12-01T15:04:05).",
            field="since",
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


PIECE = 1 << 16
"""Characters of an export's body per piece: one write, or one HTTP chunk (and one hop
to a worker thread in the API), per piece rather than per line."""


@dataclass(frozen=True)
class ExportText:
    """An export as the file holds it, JSON Lines each ending with a newline, made as it
    is read (R27): ``body`` yields it in pieces of about PIECE characters, once. ``lines``
    and ``head`` are known before the first piece (the API answers them as headers)."""

    lines: int
    head: str
    body: Iterator[str]


def export_text(engine: Engine, scope: Scope, since: datetime | None = None) -> ExportText:
    """The scope's export, its trailer signed with the store's current key (R32). The
    scope is checked and the key made (on first use) here, before any line is read."""
    with read_session(engine) as session:
        made = export(session, scope, since)
    key = audit_keys.signing_key(engine)
    lines = made.lines(changes(engine, made), key, utcnow())
    return ExportText(made.count, made.head, _pieces(lines))


def _pieces(lines: Iterable[str]) -> Iterator[str]:
    """The lines with their newlines, joined a PIECE at a time."""
    piece: list[str] = []
    size = 0
    for line in lines:
        piece.append(line + "\n")
        size += len(line) + 1
        if size >= PIECE:
            yield "".join(piece)
            piece, size = [], 0
    if piece:
        yield "".join(piece)


class VerifyResult(BaseModel):
    """What a file that passed covers."""

    ok: bool = True
    scope: ScopeView
    lines: int
    head: str
    against_store: bool
    signed_by: str | None = Field(
        default=None,
        description="The key id whose signature on the trailer was checked (R32); null "
        "when none was: a format 1 file, or a file-only check without a public key.",
    )


def verify_export(
    source: bytes | Path, engine: Engine | None, public_key_pem: bytes | None = None
) -> VerifyResult:
    """Check an export, given as its bytes (an upload) or its file, against the store
    unless ``engine`` is None; offline, a ``public_key_pem`` checks the signed trailer too
    (R32). A Refusal names the first bad line (docs/audit.md). The file is read a line at
    a time (R27): memory does not grow with its size."""
    keys = None
    if public_key_pem is not None:
        key = public_key_from_pem(public_key_pem)
        keys = {audit_keys.key_id_of(key): key}
    with source.open("rb") if isinstance(source, Path) else io.BytesIO(source) as raw:
        texts = _text_lines(raw)
        if engine is None:
            checked = verify_lines(texts, keys=keys)
        else:
            with read_session(engine) as session:
                checked = verify_lines(texts, session, keys)
    return VerifyResult(
        scope=ScopeView.model_validate(checked.scope.as_json()),
        lines=checked.lines,
        head=checked.head,
        against_store=engine is not None,
        signed_by=checked.signed_by,
    )


def _text_lines(raw: BinaryIO) -> Iterator[str]:
    """The file's lines as ``str.splitlines`` gave them from the whole decoded text (so
    numbered the same), one at a time: each binary line ends at a newline, which always
    ends a line, and keeps a ``\\r\\n`` whole, so splitting each one alike adds up to the
    same lines. A file that is not UTF-8 is refused at line 1 (not an export), as when it
    was decoded whole: a seekable one is checked through first, so whatever its lines
    hold; a pipe (``<(curl …)``) cannot be read twice, so there at its first bad line."""
    if raw.seekable():
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for block in iter(lambda: raw.read(PIECE), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise _not_utf8() from None
        raw.seek(0)
    return (text for line in raw for text in _decoded(line))


def _decoded(line: bytes) -> list[str]:
    try:
        return line.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise _not_utf8() from None


def _not_utf8() -> Refusal:
    return Refusal(ErrorCode.AUDIT_NOT_AN_EXPORT, None, line=1)


def public_key_from_pem(pem: bytes, path: str = "the public key") -> Ed25519PublicKey:
    try:
        return audit_keys.load_public_pem(pem)
    except ValueError:
        raise Refusal(
            ErrorCode.INVALID_INPUT, None, reason="public_key", path=path, field="public_key"
        ) from None


class PublicKeyOut(BaseModel):
    """One audit signing key's public half (R32): exports name it by ``key_id``."""

    key_id: str = Field(examples=["3f9a0c1b2d4e5f60"])
    public_key: str = Field(description="SubjectPublicKeyInfo PEM, as openssl reads it.")
    created_at: datetime
    retired_at: datetime | None = Field(
        default=None, description="When a newer key took over; it signs nothing since."
    )
    current: bool


class PublicKeys(BaseModel):
    keys: list[PublicKeyOut] = Field(description="Newest first; the first one signs.")


def _out(key: audit_keys.PublicKey, current: bool) -> PublicKeyOut:
    return PublicKeyOut(
        key_id=key.key_id,
        public_key=key.public_pem,
        created_at=key.created_at,
        retired_at=key.retired_at,
        current=current,
    )


def public_key(engine: Engine, key_id: str | None = None) -> PublicKeyOut:
    """The key that signs now (made on first use), or an earlier one by its id."""
    current = audit_keys.current_public_key(engine)
    if key_id is None or key_id == current.key_id:
        return _out(current, True)
    return _out(audit_keys.public_key(engine, key_id.strip().lower()), False)


def public_keys(engine: Engine) -> PublicKeys:
    keys = audit_keys.public_keys(engine)
    return PublicKeys(keys=[_out(k, n == 0) for n, k in enumerate(keys)])


class KeyRotated(BaseModel):
    key_id: str
    public_key: str
    retired: str | None


def rotate_key(engine: Engine) -> KeyRotated:
    """A new signing key; the one before stays listed, public half only (R32)."""
    made = audit_keys.rotate(engine)
    return KeyRotated(key_id=made.new.key_id, public_key=made.new.public_pem, retired=made.retired)


class ChainTop(BaseModel):
    """The store's whole chain: how many changes, and the last one's hash."""

    seq: int
    head: str


class ScopeHead(BaseModel):
    """What an export of the scope (from ``since``) would hold and end with."""

    scope: ScopeView
    lines: int
    head: str


def audit_head(
    engine: Engine, shop_code: str | None, bc_id: int | None, since: datetime | None = None
) -> ChainTop | ScopeHead:
    """The hash a new export of the scope ends with, or the whole chain's with neither
    (``audit head``, ``GET /audit/head``)."""
    if shop_code is None and bc_id is None:
        if since is not None:
            raise Refusal(
                ErrorCode.INVALID_INPUT,
                "since needs a shop or a BC: the whole chain's head has no start.",
                field="since",
            )
        with read_session(engine) as session:
            top = chain.head(session)
        return ChainTop(seq=top.seq, head=top.hash)
    scope = pick_scope(shop_code, bc_id)
    with read_session(engine) as session:
        made = export(session, scope, since)
    return ScopeHead(
        scope=ScopeView.model_validate(scope.as_json()), lines=made.count, head=made.head
    )


class StoreChecked(BaseModel):
    """The store's chain held, every row's hash and link and the head."""

    ok: bool = True
    seq: int
    head: str


def check_store(engine: Engine) -> StoreChecked:
    """Walk the store's whole chain (``audit check-store``, ``GET /audit/chain``); an
    ``audit_chain_broken`` refusal names the first row that does not hold (``seq``)."""
    with read_session(engine) as session:
        broken = chain.first_broken_seq(session)
        top = chain.head(session)
    if broken is not None:
        raise Refusal(ErrorCode.AUDIT_CHAIN_BROKEN, None, seq=broken)
    return StoreChecked(seq=top.seq, head=top.hash)
