"""The Ed25519 keys that sign audit exports (R32, docs/audit.md).

The keys live in the store (docs/decisions.md, "Where the audit signing key lives"): the
first export makes the first one, ``audit rotate-key`` makes the next. The newest
generation signs; every older one stays listed by its key id, public half only, so the
exports it signed still verify. A key id is the first 16 hex digits of SHA-256 over the
raw 32-byte public key, so anyone holding a public key can tell which exports it signed.

A private key never leaves this module: not in a repr, a log line, an export or an API
answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)
from sqlalchemy import Engine, func
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import Session, col, select

from models.errors import ErrorCode, Refusal
from models.tables import AuditSigningKey, utcnow
from store.db import read_session, write_session


@dataclass(frozen=True)
class PublicKey:
    """One key's public half, as ``audit public-key`` and the API give it."""

    key_id: str
    public_pem: str
    created_at: datetime
    retired_at: datetime | None


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    private: Ed25519PrivateKey = field(repr=False)

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


def key_id_of(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_pem(pem: bytes | str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; ValueError for anything else."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError) as err:
        raise ValueError("not a PEM public key") from err
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def _public(row: AuditSigningKey) -> PublicKey:
    return PublicKey(row.key_id, row.public_pem, row.created_at, row.retired_at)


def _newest(session: Session) -> AuditSigningKey | None:
    return session.exec(
        select(AuditSigningKey).order_by(col(AuditSigningKey.generation).desc()).limit(1)
    ).first()


def _new_row(generation: int) -> AuditSigningKey:
    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    return AuditSigningKey(
        key_id=key_id_of(public),
        generation=generation,
        public_pem=public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode(),
        private_pem=private.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        ).decode(),
    )


@contextmanager
def _params_hidden() -> Iterator[None]:
    """A failed statement's error names its parameters, which here hold a private key:
    hide them, so no log line or error answer ever shows it."""
    try:
        yield
    except StatementError as err:
        err.hide_parameters, err.params = True, None
        raise


def _current_row(engine: Engine) -> AuditSigningKey:
    """The key that signs now; the first one is made on first use. Two processes making
    it at once both insert generation 1: the unique generation keeps one, the other reads
    it."""
    with read_session(engine) as session:
        row = _newest(session)
    if row is not None:
        return row
    try:
        with _params_hidden(), write_session(engine) as session:
            row = _newest(session)  # under the writer lock now (SQLite) or re-checked
            if row is None:
                row = _new_row(1)
                session.add(row)
    except IntegrityError:
        with read_session(engine) as session:
            row = _newest(session)
    assert row is not None
    return row


def signing_key(engine: Engine) -> SigningKey:
    row = _current_row(engine)
    if row.private_pem is None:  # the newest is never retired: rotation adds before it erases
        raise RuntimeError("The newest audit signing key has no private half; rotate the key.")
    private = load_pem_private_key(row.private_pem.encode(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    return SigningKey(row.key_id, private)


def current_public_key(engine: Engine) -> PublicKey:
    return _public(_current_row(engine))


def public_key(engine: Engine, key_id: str) -> PublicKey:
    """A key by id, retired or not; ``unknown_audit_key`` if this store never had it."""
    with read_session(engine) as session:
        row = session.get(AuditSigningKey, key_id)
    if row is None:
        raise Refusal(ErrorCode.UNKNOWN_AUDIT_KEY, None, key_id=key_id)
    return _public(row)


def public_keys(engine: Engine) -> list[PublicKey]:
    """Every key this store has signed with, newest first (the first is made if none)."""
    _current_row(engine)
    with read_session(engine) as session:
        rows = session.exec(
            select(AuditSigningKey).order_by(col(AuditSigningKey.generation).desc())
        ).all()
    return [_public(r) for r in rows]


def verifying_keys(session: Session) -> dict[str, Ed25519PublicKey]:
    """Every public key the store has, by key id: what checks a file against the store."""
    rows = session.exec(select(AuditSigningKey)).all()
    return {r.key_id: load_public_pem(r.public_pem) for r in rows}


@dataclass(frozen=True)
class Rotated:
    new: PublicKey
    retired: str | None


def rotate(engine: Engine) -> Rotated:
    """Make a new signing key and retire the one before: its private half is erased (it
    signs nothing more), its public half stays listed. A rotation racing another one
    loses on the unique generation and reports the winner's key."""
    try:
        with _params_hidden(), write_session(engine) as session:
            top = session.exec(select(func.max(AuditSigningKey.generation))).one()
            old = _newest(session)
            row = _new_row(int(top or 0) + 1)
            session.add(row)
            if old is not None:
                old.retired_at, old.private_pem = utcnow(), None
                session.add(old)
            return Rotated(_public(row), old.key_id if old is not None else None)
    except IntegrityError:
        with read_session(engine) as session:
            winner = _newest(session)
        assert winner is not None
        return Rotated(_public(winner), None)
