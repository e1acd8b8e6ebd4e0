"""Events of the training context: targeted-phishing email training.

Aggregates (all under one company tenant):

* ``campaign`` (id = campaign id): created, paused, resumed, cancelled,
  completed. Small, so commands against it stay cheap.
* ``targets`` (id = campaign id): the recipients with their planned send
  times, in batches (a 100,000-recipient campaign would not fit one message).
* ``dispatch`` (id = campaign id): the sender's intent log, one event per batch
  it is about to hand to the SMTP relay (see ``DispatchStarted``).
* ``recipient`` (id = recipient id, also the token in the mail's links):
  what happened to one mail and its reader.

``training.campaign_completed`` is the contract read by the diagnosis (its
education question), the help desk (「前回の訓練で開封した人は何人？」) and
insurance: add fields only with defaults.
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from ..registry import event

ScheduleMode = Literal["spread", "immediate"]
LearningStage = Literal["pre", "post"]
ReportChannel = Literal["link", "mailbox", "admin"]


class Sender(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    address: str


@event("training.campaign_created", producer="training", consumers=("training",))
class CampaignCreated(msgspec.Struct, frozen=True, kw_only=True):
    """A company's training campaign was set up (recipients follow in ``recipients_scheduled``)."""

    campaign_id: str
    name: str
    template_id: str
    mode: ScheduleMode
    window_start: datetime
    window_end: datetime
    recipients: int
    sender: Sender
    charset: Literal["utf-8", "iso-2022-jp"] = "utf-8"


class PlannedRecipient(msgspec.Struct, frozen=True, kw_only=True):
    recipient_id: str
    email: str
    name: str = ""
    department: str = ""
    position: str = ""
    manager: str = ""
    send_at: datetime


@event("training.recipients_scheduled", producer="training", consumers=("training",))
class RecipientsScheduled(msgspec.Struct, frozen=True, kw_only=True):
    """A batch of recipients and the time each one's mail is due."""

    campaign_id: str
    batch: int
    recipients: list[PlannedRecipient]


@event("training.campaign_paused", producer="training", consumers=("training",))
class CampaignPaused(msgspec.Struct, frozen=True, kw_only=True):
    """No more mails go out until the campaign is resumed."""

    campaign_id: str


@event("training.campaign_resumed", producer="training", consumers=("training",))
class CampaignResumed(msgspec.Struct, frozen=True, kw_only=True):
    """Sending continues; mails that fell due while paused go out now."""

    campaign_id: str


@event("training.campaign_cancelled", producer="training", consumers=("training",))
class CampaignCancelled(msgspec.Struct, frozen=True, kw_only=True):
    """Mails not yet sent are never sent; results so far stay."""

    campaign_id: str
    reason: str = ""


@event("training.learning_invitations_requested", producer="training", consumers=("training",))
class LearningInvitationsRequested(msgspec.Struct, frozen=True, kw_only=True):
    """Invite every recipient to the pre- (STEP1) or post-learning (STEP3) page by mail."""

    campaign_id: str
    stage: LearningStage


@event("training.learning_invitation_sent", producer="training", consumers=("training",))
class LearningInvitationSent(msgspec.Struct, frozen=True, kw_only=True):
    """The relay accepted this recipient's learning invitation (not a lure: it says it is training)."""

    campaign_id: str
    stage: LearningStage
    message_id: str
    sent_at: datetime


class DepartmentCounts(msgspec.Struct, frozen=True, kw_only=True):
    department: str
    recipients: int
    sent: int
    opened: int
    clicked: int
    submitted: int
    reported: int
    learning_completed: int


@event(
    "training.campaign_completed",
    producer="training",
    consumers=("training", "diagnosis", "helpdesk_bot", "insurance"),
)
class CampaignCompleted(msgspec.Struct, frozen=True, kw_only=True):
    """A campaign was closed and its results are final: counts overall and per department.

    ``clicked`` is the report's 開封率 (URL click rate) numerator; ``opened``
    counts mails whose open pixel loaded (HTML mail with images shown).
    """

    campaign_id: str
    name: str
    template_id: str
    recipients: int
    sent: int
    opened: int
    clicked: int
    submitted: int
    reported: int
    learning_completed: int
    first_sent_at: datetime | None = None
    median_seconds_to_click: float | None = None
    departments: list[DepartmentCounts] = []


@event("training.dispatch_started", producer="training", consumers=("training",))
class DispatchStarted(msgspec.Struct, frozen=True, kw_only=True):
    """The sender is about to hand these recipients' mails to the relay (its intent log).

    A recipient here without a later ``mail_sent``/``mail_delivery_failed`` was
    in flight when the sender stopped; it is sent again on restart with the
    same Message-ID (at-least-once for that short window only).
    """

    campaign_id: str
    recipient_ids: list[str]


@event("training.mail_sent", producer="training", consumers=("training",))
class MailSent(msgspec.Struct, frozen=True, kw_only=True):
    """The relay accepted the training mail for this recipient."""

    campaign_id: str
    message_id: str
    sent_at: datetime
    resent_after_restart: bool = False


@event("training.mail_delivery_failed", producer="training", consumers=("training",))
class MailDeliveryFailed(msgspec.Struct, frozen=True, kw_only=True):
    """The relay refused the mail for good (e.g. unknown mailbox)."""

    campaign_id: str
    reason: str


@event("training.mail_opened", producer="training", consumers=("training",))
class MailOpened(msgspec.Struct, frozen=True, kw_only=True):
    """The open pixel was loaded by a person's mail client."""

    campaign_id: str
    at: datetime


@event("training.link_clicked", producer="training", consumers=("training",))
class LinkClicked(msgspec.Struct, frozen=True, kw_only=True):
    """A person followed the link in the training mail."""

    campaign_id: str
    at: datetime
    user_agent: str = ""


@event("training.form_submitted", producer="training", consumers=("training",))
class FormSubmitted(msgspec.Struct, frozen=True, kw_only=True):
    """Something was typed into the lure's form. The values are never read or stored."""

    campaign_id: str
    at: datetime


@event("training.mail_reported", producer="training", consumers=("training",))
class MailReported(msgspec.Struct, frozen=True, kw_only=True):
    """The recipient reported the mail as suspicious: the behaviour we want."""

    campaign_id: str
    at: datetime
    channel: ReportChannel


@event("training.automated_request_recorded", producer="training", consumers=("training",))
class AutomatedRequestRecorded(msgspec.Struct, frozen=True, kw_only=True):
    """A mail scanner or sandbox fetched a tracked link; kept for audit, not counted as a person."""

    campaign_id: str
    at: datetime
    action: Literal["open", "click"]
    reason: str
    user_agent: str = ""


@event("training.learning_started", producer="training", consumers=("training",))
class LearningStarted(msgspec.Struct, frozen=True, kw_only=True):
    """The recipient opened a learning page (pre = before the mail, post = after)."""

    campaign_id: str
    stage: LearningStage
    at: datetime


@event("training.learning_completed", producer="training", consumers=("training",))
class LearningCompleted(msgspec.Struct, frozen=True, kw_only=True):
    """The recipient finished a learning page's quiz."""

    campaign_id: str
    stage: LearningStage
    at: datetime
    score: int
    questions: int
