"""Look-ups of users, BCs and shops that several rules share."""

from __future__ import annotations

from sqlmodel import Session, select

from models.enums import MemberRole
from models.errors import ErrorCode, Refusal
from models.tables import BCMember, BusinessCenter, Shop, ShopTeamMember, User


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == normalise_email(email))).first()


def require_user(session: Session, email: str) -> User:
    user = find_user(session, email)
    if user is None:
        raise Refusal(ErrorCode.UNKNOWN_USER, f"No user with the e-mail {email!r} is known.")
    return user


def require_bc(session: Session, bc_id: int, *, lock: bool = False) -> BusinessCenter:
    query = select(BusinessCenter).where(BusinessCenter.id == bc_id)
    if lock:
        query = query.with_for_update()
    bc = session.exec(query).first()
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
    return session.exec(select(Shop).where(Shop.code == code.strip().upper())).first()


def team_members(session: Session, shop_id: int) -> list[tuple[User, ShopTeamMember]]:
    rows = session.exec(
        select(User, ShopTeamMember)
        .join(ShopTeamMember, ShopTeamMember.user_id == User.id)  # type: ignore[arg-type]
        .where(ShopTeamMember.shop_id == shop_id)
        .order_by(User.email)
    ).all()
    return [(u, m) for u, m in rows]


def bc_admin_emails(session: Session, bc_id: int) -> list[str]:
    rows = session.exec(
        select(User.email)
        .join(BCMember, BCMember.user_id == User.id)  # type: ignore[arg-type]
        .where(BCMember.bc_id == bc_id, BCMember.role == MemberRole.ADMIN)
        .order_by(User.email)
    ).all()
    return list(rows)
