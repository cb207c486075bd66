"""Look-ups of users, BCs and shops that several rules share."""

from __future__ import annotations

import re

from sqlalchemy import Engine, bindparam
from sqlmodel import Session, select

from models.enums import MemberRole
from models.errors import ErrorCode, Refusal
from models.tables import BCMember, BusinessCenter, Shop, ShopTeamMember, User
from store.db import read_session, write_session


def normalise_email(email: str) -> str:
    return email.strip().lower()


# Hot look-ups are built once with bound parameters: building a statement costs about as
# much CPU as running it on SQLite (docs/performance.md).
_USER_BY_EMAIL = select(User).where(User.email == bindparam("email"))
_BC_BY_ID = select(BusinessCenter).where(BusinessCenter.id == bindparam("bc_id"))
# FOR NO KEY UPDATE: admissions for one BC queue on its row (R4's count), but rows that
# only reference the BC (a grant's foreign key takes KEY SHARE) do not wait for it. With
# FOR UPDATE an admission (BC row, then the audit head) and an approval for the same BC
# (audit head, then the grant's key check) deadlocked on PostgreSQL (docs/performance.md).
_BC_BY_ID_LOCKED = _BC_BY_ID.with_for_update(key_share=True)
_SHOP_BY_CODE = select(Shop).where(Shop.code == bindparam("code"))
_TEAM = (
    select(User, ShopTeamMember)
    .join(ShopTeamMember, ShopTeamMember.user_id == User.id)  # type: ignore[arg-type]
    .where(ShopTeamMember.shop_id == bindparam("shop_id"))
    .order_by(User.email)
)
_TEAM_MEMBER_ID = (
    select(ShopTeamMember.user_id)
    .join(User, User.id == ShopTeamMember.user_id)  # type: ignore[arg-type]
    .where(ShopTeamMember.shop_id == bindparam("shop_id"), User.email == bindparam("email"))
)
_BC_ADMIN_EMAILS = (
    select(User.email)
    .join(BCMember, BCMember.user_id == User.id)  # type: ignore[arg-type]
    .where(BCMember.bc_id == bindparam("bc_id"), BCMember.role == MemberRole.ADMIN)
    .order_by(User.email)
)


def find_user(session: Session, email: str) -> User | None:
    return session.exec(_USER_BY_EMAIL, params={"email": normalise_email(email)}).first()


def user_email(session: Session, *, user_id: int) -> str | None:
    user = session.get(User, user_id)
    return user.email if user else None


def team_member_id(session: Session, *, shop_id: int, email: str) -> int | None:
    """R13: the user id of the shop's team member with this address, if any."""
    return session.exec(
        _TEAM_MEMBER_ID, params={"shop_id": shop_id, "email": normalise_email(email)}
    ).first()


def preferred_language(session: Session, email: str) -> str | None:
    """R28: the language the person with this address saved, if any."""
    user = find_user(session, email)
    return user.preferred_language if user is not None else None


def save_preferred_language(session: Session, email: str, language: str) -> bool:
    """R28: remember a known person's language; False (nothing written) for an address
    no person has. The caller checks ``language`` is a shipped one."""
    user = find_user(session, email)
    if user is None:
        return False
    user.preferred_language = language
    session.add(user)
    return True


def page_reader(
    engine: Engine, *, email: str | None, shop_code: str | None, bc_id: int | None = None
) -> tuple[str | None, str | None, str | None]:
    """R28 for a page, in one read: the reader's saved language, the market (location) of
    the shop the page is about, and the timezone its times are shown in: the approving
    BC's (``bc_id``), else that of the BC linked to the shop; each None when unknown."""
    with read_session(engine) as session:
        saved = preferred_language(session, email) if email else None
        shop = find_shop_by_code(session, shop_code) if shop_code else None
        zone_bc = bc_id if bc_id is not None else (shop.linked_bc_id if shop else None)
        bc = session.get(BusinessCenter, zone_bc) if zone_bc is not None else None
        return (
            saved,
            shop.location if shop is not None else None,
            bc.timezone if bc is not None else None,
        )


def remember_language(engine: Engine, email: str, language: str) -> bool:
    """R28: save a person's language in its own transaction (see save_preferred_language)."""
    with write_session(engine) as session:
        return save_preferred_language(session, email, language)


def require_user(session: Session, email: str) -> User:
    user = find_user(session, email)
    if user is None:
        raise Refusal(ErrorCode.UNKNOWN_USER, email=email)
    return user


def require_bc(session: Session, bc_id: int, *, lock: bool = False) -> BusinessCenter:
    bc = session.exec(_BC_BY_ID_LOCKED if lock else _BC_BY_ID, params={"bc_id": bc_id}).first()
    if bc is None:
        raise Refusal(ErrorCode.UNKNOWN_BC, bc_id=bc_id)
    return bc


def member_role(session: Session, bc_id: int, user_id: int) -> MemberRole | None:
    member = session.get(BCMember, (bc_id, user_id))
    return member.role if member else None


def require_bc_admin(session: Session, bc: BusinessCenter, user_email: str) -> User:
    """R1: only an admin of the BC may act for it."""
    user = find_user(session, user_email)
    role = member_role(session, bc.id, user.id) if user and user.id is not None else None
    if user is None or role is None or role is not MemberRole.ADMIN:
        raise Refusal(
            ErrorCode.NOT_BC_ADMIN,
            reason="not_a_member" if role is None else "standard_member",
            email=user_email,
            bc_id=bc.id,
            bc_name=bc.name,
        )
    return user


def find_shop_by_code(session: Session, code: str) -> Shop | None:
    return session.exec(_SHOP_BY_CODE, params={"code": code.strip().upper()}).first()


SHOP_CODE = re.compile(r"^[A-Z0-9]{4,32}$")


def parse_shop_code(raw: str) -> str:
    """R5: a shop code is 4-32 letters and digits; case does not matter."""
    code = raw.strip().upper()
    if not SHOP_CODE.match(code):
        raise unknown_shop_code()
    return code


def unknown_shop_code() -> Refusal:
    """R5: one answer for malformed and unknown codes, so it reveals nothing about shops."""
    return Refusal(ErrorCode.UNKNOWN_SHOP_CODE)


def require_shop_by_code(session: Session, raw: str) -> Shop:
    """R5: the shop a person named by its code, or the one answer for any bad code. The
    only look-up by code for what people type (CLI, web, service)."""
    shop = find_shop_by_code(session, parse_shop_code(raw))
    if shop is None or shop.id is None:
        raise unknown_shop_code()
    return shop


def team_members(session: Session, shop_id: int) -> list[tuple[User, ShopTeamMember]]:
    rows = session.exec(_TEAM, params={"shop_id": shop_id}).all()
    return [(u, m) for u, m in rows]


def bc_admin_emails(session: Session, bc_id: int) -> list[str]:
    return list(session.exec(_BC_ADMIN_EMAILS, params={"bc_id": bc_id}).all())
