"""The ticket aggregate: a conversation handed over to the partner's operators.

Status flow: open → in_progress (first operator action) ⇄ waiting_customer /
dispatched → closed. Every change is an event with its timestamp.
"""
from __future__ import annotations

from datetime import datetime

import msgspec

from otasuke.events import Aggregate, DomainError, Envelope
from otasuke.events.schemas.helpdesk import (
    DispatchRequested,
    OperatorReplied,
    TicketClosed,
    TicketOpened,
    TicketStatusChanged,
)

AGGREGATE_TYPE = "ticket"
STATUSES = ("open", "in_progress", "waiting_customer", "dispatched", "closed")


class Ticket(msgspec.Struct, frozen=True):
    status: str = "new"
    conversation_id: str | None = None
    first_response_at: datetime | None = None
    dispatched: bool = False


def evolve(state: Ticket, env: Envelope) -> Ticket:
    d = env.data
    if isinstance(d, TicketOpened):
        return Ticket("open", d.conversation_id)
    if isinstance(d, TicketStatusChanged):
        return msgspec.structs.replace(state, status=d.status)
    if isinstance(d, OperatorReplied):
        return msgspec.structs.replace(state, first_response_at=state.first_response_at or env.occurred_at)
    if isinstance(d, DispatchRequested):
        return msgspec.structs.replace(state, dispatched=True)
    if isinstance(d, TicketClosed):
        return msgspec.structs.replace(state, status="closed")
    return state


TICKET = Aggregate(initial=Ticket, evolve=evolve)


def open_ticket(state: Ticket, command: TicketOpened) -> list[TicketOpened]:
    if state.status != "new":
        return []  # opening the same ticket again is a no-op
    if not command.summary.strip():
        raise DomainError("a ticket needs a summary")
    return [command]


def _require_open(state: Ticket) -> None:
    if state.status == "new":
        raise DomainError("no such ticket")
    if state.status == "closed":
        raise DomainError("the ticket is already closed")


def _start(state: Ticket, ticket_id: str, by: str) -> list[TicketStatusChanged]:
    return [TicketStatusChanged(ticket_id=ticket_id, status="in_progress", by=by)] if state.status == "open" else []


def reply(state: Ticket, ticket_id: str, operator_id: str, text: str) -> list:
    _require_open(state)
    if not text.strip():
        raise DomainError("the reply is empty")
    return [*_start(state, ticket_id, operator_id), OperatorReplied(ticket_id=ticket_id, operator_id=operator_id, text=text.strip())]


def change_status(state: Ticket, ticket_id: str, status: str, by: str) -> list:
    _require_open(state)
    if status not in ("in_progress", "waiting_customer"):
        raise DomainError("status must be in_progress or waiting_customer (use dispatch / close for the others)")
    return [] if state.status == status else [TicketStatusChanged(ticket_id=ticket_id, status=status, by=by)]


def request_dispatch(state: Ticket, ticket_id: str, operator_id: str, reason: str, requested_for: datetime | None) -> list:
    _require_open(state)
    if not reason.strip():
        raise DomainError("say why an engineer should go on site")
    return [
        DispatchRequested(ticket_id=ticket_id, operator_id=operator_id, reason=reason.strip(), requested_for=requested_for),
        TicketStatusChanged(ticket_id=ticket_id, status="dispatched", by=operator_id),
    ]


def close(state: Ticket, ticket_id: str, by: str, resolution: str) -> list[TicketClosed]:
    if state.status == "closed":
        return []
    _require_open(state)
    if not resolution.strip():
        raise DomainError("a ticket is closed with a resolution")
    return [TicketClosed(ticket_id=ticket_id, resolution=resolution.strip(), by=by)]
