"""Events of the help desk context: tickets (hand-over to humans), chat links, conversations.

Aggregates: ``ticket`` (id = ticket id), ``contact`` (a LINE user or web
visitor linked to a company), ``conversation`` (Rasa conversation events,
published for replay). Ticket events are read by insurance (claims evidence).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from ..registry import event

TicketSource = Literal["user_request", "bot_failed", "incident_report", "alert", "dispatch_request"]


@event("helpdesk.ticket_opened", producer="helpdesk_bot", consumers=("helpdesk_bot", "insurance"))
class TicketOpened(msgspec.Struct, frozen=True, kw_only=True):
    """A conversation was handed over to the partner's operators."""

    ticket_id: str
    source: TicketSource
    summary: str
    conversation_id: str | None = None
    channel: str | None = None
    alert_id: str | None = None
    incident: bool = False


@event("helpdesk.ticket_status_changed", producer="helpdesk_bot", consumers=("helpdesk_bot", "insurance"))
class TicketStatusChanged(msgspec.Struct, frozen=True, kw_only=True):
    """A ticket moved to a new status (e.g. in_progress, waiting_customer, dispatched)."""

    ticket_id: str
    status: str
    by: str


@event("helpdesk.operator_replied", producer="helpdesk_bot", consumers=("helpdesk_bot",))
class OperatorReplied(msgspec.Struct, frozen=True, kw_only=True):
    """An operator answered the customer in the same chat."""

    ticket_id: str
    operator_id: str
    text: str


@event("helpdesk.dispatch_requested", producer="helpdesk_bot", consumers=("helpdesk_bot", "insurance"))
class DispatchRequested(msgspec.Struct, frozen=True, kw_only=True):
    """An operator requested an on-site engineer visit (駆けつけ)."""

    ticket_id: str
    operator_id: str
    reason: str
    requested_for: datetime | None = None


@event("helpdesk.ticket_closed", producer="helpdesk_bot", consumers=("helpdesk_bot", "insurance"))
class TicketClosed(msgspec.Struct, frozen=True, kw_only=True):
    """The ticket was closed with a resolution."""

    ticket_id: str
    resolution: str
    by: str


@event("helpdesk.conversation_event", producer="helpdesk_bot", consumers=("helpdesk_bot",))
class ConversationEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One Rasa tracker event (user message, bot utterance, action…) kept for replay."""

    conversation_id: str
    event: str
    payload: dict[str, Any] = {}


# -- chat contacts: a LINE user or web visitor linked to a company contact ---------------

ChatChannel = Literal["line", "web"]


@event("helpdesk.link_code_issued", producer="helpdesk_bot", consumers=("helpdesk_bot",))
class LinkCodeIssued(msgspec.Struct, frozen=True, kw_only=True):
    """A company admin issued a one-time code to link a chat user to the company.

    Only the code's SHA-256 is kept; the code itself is shown once to the admin.
    """

    code_hash: str
    contact_name: str
    issued_by: str
    expires_at: datetime


@event("helpdesk.contact_linked", producer="helpdesk_bot", consumers=("helpdesk_bot",))
class ContactLinked(msgspec.Struct, frozen=True, kw_only=True):
    """A chat user redeemed a link code and is now a contact of the company."""

    code_hash: str
    channel: ChatChannel
    user_id: str
    contact_name: str
    display_name: str | None = None


@event("helpdesk.contact_unlinked", producer="helpdesk_bot", consumers=("helpdesk_bot",))
class ContactUnlinked(msgspec.Struct, frozen=True, kw_only=True):
    """A chat user was unlinked from the company (by its admin or an operator)."""

    channel: ChatChannel
    user_id: str
    by: str


# -- chat transcript ----------------------------------------------------------------------

@event("helpdesk.chat_message", producer="helpdesk_bot", consumers=("helpdesk_bot",))
class ChatMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One message of a chat as the customer saw it (customer, bot or system side)."""

    conversation_id: str
    channel: ChatChannel
    sender: Literal["customer", "bot", "system"]
    text: str
    buttons: list[str] = []
    alert_id: str | None = None


# -- alerts pushed into chat ------------------------------------------------------------------

@event("helpdesk.notification_preferences_set", producer="helpdesk_bot", consumers=("helpdesk_bot",))
class NotificationPreferencesSet(msgspec.Struct, frozen=True, kw_only=True):
    """A company's chat-alert preferences: minimum severity, quiet hours (JST), escalation delay."""

    min_severity: str = "high"
    quiet_start: str | None = None
    """"HH:MM" in Japan time; None for no quiet hours."""
    quiet_end: str | None = None
    escalate_after_minutes: float = 30.0
    by: str = ""


@event("helpdesk.alert_notice_sent", producer="helpdesk_bot", consumers=("helpdesk_bot", "telemetry"))
class AlertNoticeSent(msgspec.Struct, frozen=True, kw_only=True):
    """An alert card was pushed into the chats of a company's contacts."""

    alert_id: str
    severity: str
    conversation_ids: list[str] = []
    deferred: bool = False
    """True when it was held back by quiet hours and sent when they ended."""


@event("helpdesk.alert_notice_answered", producer="helpdesk_bot", consumers=("helpdesk_bot", "telemetry"))
class AlertNoticeAnswered(msgspec.Struct, frozen=True, kw_only=True):
    """A contact pressed a button on an alert card: details, ask for help, or no problem."""

    alert_id: str
    conversation_id: str
    answer: Literal["details", "request_help", "no_problem"]


@event("helpdesk.alert_escalated_to_operator", producer="helpdesk_bot", consumers=("helpdesk_bot", "telemetry"))
class AlertEscalatedToOperator(msgspec.Struct, frozen=True, kw_only=True):
    """An unacknowledged critical alert was handed to the operators with a ticket."""

    alert_id: str
    ticket_id: str
    minutes_unacknowledged: float



# -- chat safeguards: counted across restarts and replicas -----------------------------------

@event("helpdesk.link_attempt_failed", producer="helpdesk_bot", consumers=("helpdesk_bot",))
class LinkAttemptFailed(msgspec.Struct, frozen=True, kw_only=True):
    """A chat user typed a link code that does not exist, is used or expired (the code itself is not kept)."""

    conversation_id: str
    failures: int
    """Consecutive failed attempts of this chat user, this one included."""
    turn_id: str | None = None
    """The chat turn (e.g. ``line:<webhookEventId>``) that failed, so a redelivered turn counts once."""


@event("helpdesk.link_locked", producer="helpdesk_bot", consumers=("helpdesk_bot",))
class LinkLocked(msgspec.Struct, frozen=True, kw_only=True):
    """Too many wrong link codes: this chat user may not try again until ``until`` (guessing guard)."""

    conversation_id: str
    failures: int
    until: datetime


@event("helpdesk.link_attempts_cleared", producer="helpdesk_bot", consumers=("helpdesk_bot",))
class LinkAttemptsCleared(msgspec.Struct, frozen=True, kw_only=True):
    """The chat user linked successfully, or the lock ran out: the count starts again."""

    conversation_id: str


@event("helpdesk.link_lock_lifted", producer="helpdesk_bot", consumers=("helpdesk_bot",))
class LinkLockLifted(msgspec.Struct, frozen=True, kw_only=True):
    """An operator lifted a link-code lock early (the envelope's actor is the operator), e.g. after
    confirming by phone that it was the customer mistyping; the count starts again."""

    conversation_id: str
    reason: str | None = None


@event("helpdesk.bot_missed", producer="helpdesk_bot", consumers=("helpdesk_bot",))
class BotMissed(msgspec.Struct, frozen=True, kw_only=True):
    """The bot could not answer a turn (did not understand, or was unavailable)."""

    conversation_id: str
    misses: int
    """Misses in a row in this conversation, this one included (two hand over to a person)."""
    turn_id: str | None = None
    """The chat turn that missed, so a redelivered turn counts once."""


@event("helpdesk.bot_misses_cleared", producer="helpdesk_bot", consumers=("helpdesk_bot",))
class BotMissesCleared(msgspec.Struct, frozen=True, kw_only=True):
    """The bot answered after a miss, or the conversation was handed over: the count starts again."""

    conversation_id: str


# -- operator accounts: the partner's staff who sign in to the console ---------------------------

@event("helpdesk.operator_account_created", producer="helpdesk_bot", consumers=("helpdesk_bot",))
class OperatorAccountCreated(msgspec.Struct, frozen=True, kw_only=True):
    """A partner administrator created a console account for a member of staff (no password yet)."""

    account_id: str
    email: str
    display_name: str
    is_admin: bool = False
    """Administrators may create and disable other accounts of their partner."""
    by: str


@event("helpdesk.operator_password_link_issued", producer="helpdesk_bot", consumers=("helpdesk_bot",))
class OperatorPasswordLinkIssued(msgspec.Struct, frozen=True, kw_only=True):
    """A one-time set-password link was issued (new account, or a reset: open sessions end); only the token's SHA-256 is kept."""

    account_id: str
    token_hash: str
    expires_at: datetime
    by: str
    # A reset assumes the old password may be known to someone else: it stops working at once, not
    # when the new one is set. (Absent in events recorded before this field: they revoked nothing.)
    revokes_password: bool = False


@event("helpdesk.operator_password_set", producer="helpdesk_bot", consumers=("helpdesk_bot",))
class OperatorPasswordSet(msgspec.Struct, frozen=True, kw_only=True):
    """The operator chose a password through the link; only its argon2id hash is kept. Open sessions end."""

    account_id: str
    password_hash: str


@event("helpdesk.operator_signed_in", producer="helpdesk_bot", consumers=("helpdesk_bot",))
class OperatorSignedIn(msgspec.Struct, frozen=True, kw_only=True):
    """The operator signed in to the console: one console session opened (audit trail)."""

    account_id: str
    session_hash: str = ""
    """SHA-256 of the session id kept in the operator's cookie (never the id itself); empty before sessions were recorded."""
    expires_at: datetime | None = None
    """The latest the session can last (12 h); it ends sooner with operator_signed_out."""


OperatorSignOutReason = Literal["signed_out", "idle", "expired", "account_disabled", "password_reset", "password_changed"]


@event("helpdesk.operator_signed_out", producer="helpdesk_bot", consumers=("helpdesk_bot",))
class OperatorSignedOut(msgspec.Struct, frozen=True, kw_only=True):
    """A console session ended: logout, found idle or past its limit, or ended by disabling or a password change."""

    account_id: str
    session_hash: str
    reason: OperatorSignOutReason


@event("helpdesk.operator_account_disabled", producer="helpdesk_bot", consumers=("helpdesk_bot",))
class OperatorAccountDisabled(msgspec.Struct, frozen=True, kw_only=True):
    """The account may no longer sign in; its open console sessions end with it (operator_signed_out)."""

    account_id: str
    reason: str
    by: str
