"""Look-ups of users, BCs and shops that several rules share."""

from __future__ import annotations

from sqlalchemy import bindparam
from sqlmodel import Session, select

from models.enums import MemberRole
from models.errors import ErrorCode, Refusal
from models.tables import BCMember, BusinessCenter, Shop, ShopTeamMember, User


def normalise_email(email: str) -> str:
    return email.strip().lower()


# Hot look-ups are built once with bound parameters: building a statement costs about as
# much CPU as running it on SQLite (docs/performance.md).
_USER_BY_EMAIL = select(User).where(User.email == bindparam("email"))
_BC_BY_ID = select(BusinessCenter).where(BusinessCenter.id == bindparam("bc_id"))
_BC_BY_ID_LOCKED = _BC_BY_ID.with_for_update()
_SHOP_BY_CODE = select(Shop).where(Shop.code == bindparam("code"))
_TEAM = (
    select(User, ShopTeamMember)
    .join(ShopTeamMember, ShopTeamMember.user_id == User.id)  # type: ignore[arg-type]
    .where(ShopTeamMember.shop_id == bindparam("shop_id"))
    .order_by(User.email)
)
_BC_ADMIN_EMAILS = (
    select(User.email)
    .join(BCMember, BCMember.user_id == User.id)  # type: ignore[arg-type]
    .where(BCMember.bc_id == bindparam("bc_id"), BCMember.role == MemberRole.ADMIN)
    .order_by(User.email)
)


def find_user(session: Session, email: str) -> User | None:
    return session.exec(_USER_BY_EMAIL, params={"email": normalise_email(email)}).first()


def require_user(session: Session, email: str) -> User:
    user = find_user(session, email)
    if user is None:
        raise Refusal(ErrorCode.UNKNOWN_USER, f"No user with the e-mail {email!r} is known.")
    return user


def require_bc(session: Session, bc_id: int, *, lock: bool = False) -> BusinessCenter:
    bc = session.exec(_BC_BY_ID_LOCKED if lock else _BC_BY_ID, params={"bc_id": bc_id}).first()
    if bc is None:
        raise Refusal(ErrorCode.UNKNOWN_BC, f"Business Center {bc_id} does not exist.")
    return bc


def member_role(session: Session, bc_id: int, user_id: int) -> MemberRole | None:
    member = session.get(BCMember, (bc_id, user_id))
    return member.role if member else None


def require_bc_admin(session: Session, bc: BusinessCenter, user_email: str) -> User:
    """R1: only an admin of the BC may act for it."""
    user = find_user(session, user_email)
    role = member_role(session, bc.id, user.id) if user and user.id is not None else None
    if user is None or role is None:
        raise Refusal(
            ErrorCode.NOT_BC_ADMIN,
            f"{user_email} is not a member of Business Center {bc.id} ({bc.name}); "
            "only its admins can do this.",
        )
    if role is not MemberRole.ADMIN:
        raise Refusal(
            ErrorCode.NOT_BC_ADMIN,
            f"{user_email} is a standard member of Business Center {bc.id} ({bc.name}); "
            "ask an admin of that Business Center to make you a co-admin.",
        )
    return user


def find_shop_by_code(session: Session, code: str) -> Shop | None:
    return session.exec(_SHOP_BY_CODE, params={"code": code.strip().upper()}).first()


def team_members(session: Session, shop_id: int) -> list[tuple[User, ShopTeamMember]]:
    rows = session.exec(_TEAM, params={"shop_id": shop_id}).all()
    return [(u, m) for u, m in rows]


def bc_admin_emails(session: Session, bc_id: int) -> list[str]:
    return list(session.exec(_BC_ADMIN_EMAILS, params={"bc_id": bc_id}).all())
