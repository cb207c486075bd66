"""The reference-data file that ``starter.py load`` imports (documented in docs/operations.md).

Names and ids use the shared field types (models/fields.py): a name with a control
character or an id the store cannot hold refuses the whole file, before anything is stored.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, EmailStr, Field, field_validator

from models.enums import BCType, MemberRole, TeamRole
from models.fields import DbId, DisplayName


class UserIn(BaseModel):
    email: EmailStr
    name: DisplayName


class MemberIn(BaseModel):
    email: EmailStr
    role: MemberRole


class AdAccountIn(BaseModel):
    id: DbId
    name: DisplayName


class BusinessCenterIn(BaseModel):
    id: DbId
    name: DisplayName
    type: BCType
    country: str = Field(pattern=r"^[A-Z]{2}$")
    timezone: str
    members: list[MemberIn] = []
    ad_accounts: list[AdAccountIn] = []

    @field_validator("timezone")
    @classmethod
    def _iana(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA timezone") from None
        return value


class TeamMemberIn(BaseModel):
    email: EmailStr
    role: TeamRole


class ShopIn(BaseModel):
    code: str = Field(pattern=r"^[A-Za-z0-9]{4,32}$")
    name: DisplayName
    location: str = Field(pattern=r"^(cross_border|[A-Z]{2})$")
    linked_bc: DbId | None = None
    team: list[TeamMemberIn] = []


class ReferenceData(BaseModel):
    users: list[UserIn] = []
    business_centers: list[BusinessCenterIn] = []
    shops: list[ShopIn] = []
