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

