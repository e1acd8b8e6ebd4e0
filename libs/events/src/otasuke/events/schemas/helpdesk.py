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
