"""Pydantic messages and read models of the partner side (R16-R19): invitations, shares,
campaigns and removals of access.

One model per message so fields can be added without breaking recorded histories. Pure
(stdlib, pydantic, enums): workflow code imports it inside the sandbox.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from models.enums import MemberRole, Permission, Relationship
from models.fields import Id
from models.partner_enums import (
    AdAccountPermission,
    CampaignStatus,
    InvitationKind,
    InvitationStatus,
)


class Message(BaseModel):
    model_config = {"frozen": False, "extra": "ignore"}


# --- invitations (R16, R17) -------------------------------------------------------------


class AdAccountGrant(Message):
    """An ad account a member invitation gives, with its permission."""

    ad_account_id: Id
    permission: AdAccountPermission


class InvitationState(Message):
    """Everything an invitation workflow knows, carried whole across continue-as-new."""

    status: InvitationStatus | None = None  # None until the store admitted it
    refusal_code: str | None = None
    refusal_message: str | None = None
    emails_sent: bool = False
    # Partner invitations: shops offered so far, and those already e-mailed.
    shop_ids: list[Id] = Field(default_factory=list)
    mailed_shop_ids: list[Id] = Field(default_factory=list)
    decided_by: str | None = None
    granted_shop_ids: list[Id] = Field(default_factory=list)


class MemberInvitationInput(Message):
    """Starts one member invitation workflow: one e-mail address, role, ad accounts (R16)."""

    invitation_id: str
    bc_id: Id
    email: str
    role: MemberRole
    ad_accounts: list[AdAccountGrant] = Field(default_factory=list)
    invited_by: str
    state: InvitationState | None = None


class PartnerInvitationInput(Message):
    """Starts one add-partner invitation workflow (R17); shops arrive by ``offer_shop``."""

    invitation_id: str
    bc_id: Id
    partner_bc_id: Id
    invited_by: str
    state: InvitationState | None = None


class WaitInvitationAdmission(Message):
    """Update sent with start of a member invitation: waits until the store admitted it."""


class OfferShop(Message):
    """Update (sent with start, or to the open invitation): add a shop to the invitation."""

    shop_id: Id
    permission: Permission
    by: str
    # R23: the share ends then once the invitation is accepted (None: no end date).
    ends_at: datetime | None = None


class RespondToInvitation(Message):
    """Update: accept, decline or cancel an invitation, as ``by``."""

    by: str


class GrantUntil(Message):
    """A grant that ends by itself at ``ends_at`` (R23)."""

    grant_id: Id
    ends_at: datetime


class InvitationOutcome(Message):
    invitation_id: str
    kind: InvitationKind
    status: InvitationStatus
    bc_id: Id
    email: str | None = None
    partner_bc_id: Id | None = None
    shop_ids: list[Id] = Field(default_factory=list)
    granted_shop_ids: list[Id] = Field(default_factory=list)
    workflow_id: str | None = None
    # R23: the grants an accepted invitation made with an end date; each gets its timer.
    granted_until: list[GrantUntil] = Field(default_factory=list)


class InvitationResult(Message):
    """What a finished invitation workflow returns."""

    invitation_id: str
    # An InvitationStatus; "refused" when never admitted; "failed" when admission failed
    # for a reason no retry heals (bad data, broken invariant).
    status: str
    refusal_code: str | None = None
    refusal_message: str | None = None
    granted_shop_ids: list[Id] = Field(default_factory=list)


# invitation activities


class CreateMemberInvitation(Message):
    invitation_id: str
    bc_id: Id
    email: str
    role: MemberRole
    ad_accounts: list[AdAccountGrant] = Field(default_factory=list)
    invited_by: str
    workflow_id: str


class OfferPartnerShop(Message):
    invitation_id: str
    bc_id: Id
    partner_bc_id: Id
    shop_id: Id
    permission: Permission
    by: str
    workflow_id: str
    # R23: the offered share's end date (None: none).
    ends_at: datetime | None = None


class InvitationDecision(Message):
    """Accept, decline or cancel ``invitation_id`` as ``by`` (activity input)."""

    invitation_id: str
    by: str


class PartnerEmailsSent(Message):
    """How many e-mails an invitation or removal notice delivered (each once, by key)."""

    sent: int


class InvitationEmails(Message):
    """E-mail the invitee (member) or the partner BC's admins about one offered shop."""

    invitation_id: str
    shop_id: Id | None = None


# --- removing access (R19) --------------------------------------------------------------


class RemovalInput(Message):
    """Starts one removal of a partner's access to a shop."""

    removal_id: str
    shop_id: Id
    shop_code: str
    partner_bc_id: Id
    by: str
    # Why, when it is not the seller's own act: "end_date" for R23's automatic removal
    # (the history says "access ended by its end date", R21).
    reason: str | None = None
    # Paging: campaigns per activity, per transaction, and an optional pause between
    # transactions (to spare a real ads backend; the kill test uses it to stop halfway).
    page_size: int = 2000
    batch_size: int = 500
    pause_ms: int = 0
    state: RemovalState | None = None


class RemovalState(Message):
    refusal_code: str | None = None
    refusal_message: str | None = None
    ended: GrantsEnded | None = None
    after_id: Id = 0  # campaigns up to this id are done
    campaigns_stopped: int = 0
    pages: int = 0
    stopping_done: bool = False
    notified: bool = False
    finished: bool = False
    # A step after the grants ended failed for good; the reason is in refusal_*.
    failed: bool = False


class WaitGrantsEnded(Message):
    """Update sent with start: returns once the grants are ended, or the refusal."""


class EndGrants(Message):
    removal_id: str
    shop_id: Id
    partner_bc_id: Id
    by: str
    workflow_id: str
    reason: str | None = None


class GrantsEnded(Message):
    removal_id: str
    shop_id: Id
    partner_bc_id: Id
    ended_grant_ids: list[Id]
    # BCs that no longer hold the shop at all: their campaigns stop, assignments end.
    lost_bc_ids: list[Id]
    assignments_ended: int = 0
    ended_at: datetime
    # Campaigns the removal stops in all (the total a progress bar counts towards).
    campaigns_to_stop: int


class StopCampaignPage(Message):
    removal_id: str
    shop_id: Id
    bc_ids: list[Id]
    after_id: Id
    page_size: int
    batch_size: int
    pause_ms: int = 0


class PageStopped(Message):
    stopped: int
    last_id: Id
    done: bool


class FinishRemoval(Message):
    removal_id: str


class RemovalFinished(Message):
    """The removal recorded as completed, with the store's count of campaigns stopped."""

    campaigns_stopped: int


class RemovalNotice(Message):
    removal_id: str


class RemovalProgress(Message):
    """Query ``progress`` of a removal workflow."""

    removal_id: str
    status: str
    campaigns_stopped: int
    pages: int
    lost_bc_ids: list[Id] = Field(default_factory=list)
    # What campaigns_stopped counts towards, from the store once the grants ended (0 until
    # then).
    campaigns_total: int = 0


class RemovalResult(Message):
    removal_id: str
    status: str  # "completed", "refused", or "failed" (a step failed for good)
    campaigns_stopped: int = 0
    lost_bc_ids: list[Id] = Field(default_factory=list)
    refusal_code: str | None = None
    refusal_message: str | None = None


# --- read models --------------------------------------------------------------------------


class HeldShopView(BaseModel):
    """A shop in a BC's shop list (R8, R17): relationship and permission."""

    shop_id: Id
    shop_code: str
    shop_name: str
    relationship: Relationship
    permission: Permission
    granted_by_bc_id: Id | None = None
    via: str  # "request" or "share"
    since: datetime
    # R23: when the access ends by itself (None: no end date).
    ends_at: datetime | None = None


class CampaignView(BaseModel):
    campaign_id: Id
    name: str
    status: CampaignStatus
    ad_account_id: Id
    bc_id: Id
    shop_code: str
    created_by: str
    created_at: datetime
    stopped_at: datetime | None = None


class DownstreamPartner(BaseModel):
    bc_id: Id
    bc_name: str
    shared_by_bc_id: Id
    depth: int  # 1 = a partner of the removed partner
    permission: Permission
    delivering_campaigns: int
    keeps_access: bool  # it also holds the shop another way


class RemovalPreview(BaseModel):
    """What a removal would stop, shown to the seller before confirming (R19)."""

    shop_id: Id
    shop_code: str
    partner_bc_id: Id
    partner_bc_name: str
    permission: Permission
    delivering_campaigns: int  # the partner's own
    total_delivering_campaigns: int  # the partner's and every downstream partner's
    member_assignments: int
    downstream: list[DownstreamPartner] = Field(default_factory=list)
    grant_id: Id


class AssignmentView(BaseModel):
    bc_id: Id
    shop_code: str
    member: str
    permission: Permission
    since: datetime
    # R23: when the assignment ends by itself (None: no end date).
    ends_at: datetime | None = None


class ShareOutcome(BaseModel):
    """share-shop's answer: shared at once, or an add-partner invitation is pending."""

    status: str  # "shared" or "invited"
    bc_id: Id
    partner_bc_id: Id
    shop_code: str
    permission: Permission
    grant_id: Id | None = None
    invitation_id: str | None = None
    # R23: when the share ends by itself (None: no end date).
    ends_at: datetime | None = None


RemovalInput.model_rebuild()
RemovalState.model_rebuild()
MemberInvitationInput.model_rebuild()
PartnerInvitationInput.model_rebuild()
