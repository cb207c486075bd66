"""Enumerations named by the rules (docs/rules.md, "The people and things")."""

from enum import StrEnum

from models.wording import N_


class BCType(StrEnum):
    DIRECT = "direct"
    AGENCY = "agency"
    REGULAR = "regular"


class MemberRole(StrEnum):
    ADMIN = "admin"
    STANDARD = "standard"


class TeamRole(StrEnum):
    OWNER = "owner"
    MAIN_ADMIN = "main_admin"
    AD_MANAGER = "ad_manager"


class RequestMethod(StrEnum):
    REQUEST_ACCESS = "request_access"
    ADD_MY_SHOP = "add_my_shop"

    @property
    def label(self) -> str:
        return {
            RequestMethod.REQUEST_ACCESS: N_("Request access to other's TikTok Shop"),
            RequestMethod.ADD_MY_SHOP: N_("Add my TikTok Shop"),
        }[self]

    @property
    def other(self) -> "RequestMethod":
        return (
            RequestMethod.ADD_MY_SHOP
            if self is RequestMethod.REQUEST_ACCESS
            else RequestMethod.REQUEST_ACCESS
        )


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    EXPIRED = "expired"
    REVOKED = "revoked"
    CANCELLED = "cancelled"
    # R22: the shop team said no; the BC may ask again (R6 counts only pending ones).
    DECLINED = "declined"


class Relationship(StrEnum):
    OWNER = "owner"
    PARTNER = "partner"


class Permission(StrEnum):
    """Permission a BC or member holds on a shop, ordered (R17 policy)."""

    MANAGER = "manager"
    AD_PROMOTION = "ad_promotion"


class SendChannel(StrEnum):
    """How a request reached the seller: the first e-mail, a resend e-mail, or a copied link."""

    EMAIL = "email"
    RESEND_EMAIL = "resend_email"
    COPY_LINK = "copy_link"


class Scenario(StrEnum):
    """The approving seller's situation (R12)."""

    S1 = "S1"
    S2 = "S2"
    S3 = "S3"
    S4 = "S4"


ELIGIBLE_BC_COUNTRIES = frozenset({"SG", "MY", "PH", "VN", "TH", "CN", "GB", "US", "ID"})
"""R2: direct and agency BCs must be registered in one of these."""

SUPPORTED_SHOP_LOCATIONS = frozenset(
    {"cross_border", "ID", "MY", "PH", "SG", "TH", "GB", "US", "VN"}
)
"""R3: shops located here can be requested at once."""

DAILY_REQUEST_LIMIT = 20
"""R4: new requests per BC per calendar day in the BC's timezone."""

RESEND_EMAIL_MIN_INTERVAL_SECONDS = 60
"""R8 policy: a resend e-mail within this many seconds of the previous resend is refused."""

DEFAULT_REMINDER_DAYS = (3, 10)
"""R25 policy: a pending request reminds the shop team this many days after its last
e-mail (the first or a resend); configurable, at most ``MAX_REMINDERS`` of them."""

MAX_REMINDERS = 2
