"""Ticket commands: open (hand-over), reply, dispatch, close; each delivers its message to the chat."""
from __future__ import annotations

from datetime import datetime

from otasuke.events import AggregateRef, EventMeta, Tenant, derived_id, execute, new_id
from otasuke.events.schemas.helpdesk import TicketOpened
from otasuke.platform.service import Runtime

from ..domain import messages_ja as ja
from ..domain import ticket as tk
from ..nlu import BotMessage
from .delivery import Delivery

VIEW = "helpdesk_bot.helpdesk"


def ticket_ref(tenant: Tenant, ticket_id: str) -> AggregateRef:
    return AggregateRef("helpdesk", tenant, tk.AGGREGATE_TYPE, ticket_id)


async def open_ticket(rt: Runtime, tenant: Tenant, *, source: str, summary: str, conversation_id: str | None,
                      channel: str | None, alert_id: str | None = None, incident: bool = False,
                      actor: str = "system", ticket_id: str | None = None, command_id: str | None = None) -> str:
    ticket_id = ticket_id or new_id()
    command = TicketOpened(ticket_id=ticket_id, source=source, summary=summary[:500] or "(内容なし)",
                           conversation_id=conversation_id, channel=channel, alert_id=alert_id, incident=incident)
    outcome = await execute(rt.store, tk.TICKET, ticket_ref(tenant, ticket_id), lambda s: tk.open_ticket(s, command),
                            meta=EventMeta(actor=actor), command_id=command_id)
    if outcome.appended:
        await rt.wait_for(VIEW, outcome.version)
    return ticket_id


async def ticket_row(rt: Runtime, ticket_id: str):
    return await rt.pool.fetchrow("SELECT * FROM tickets WHERE ticket_id=$1", ticket_id)


async def _run(rt: Runtime, row, decide, actor: str, command_id: str | None):
    tenant = Tenant(row["partner_id"], row["company_id"])
    outcome = await execute(rt.store, tk.TICKET, ticket_ref(tenant, row["ticket_id"]), decide,
                            meta=EventMeta(actor=actor), command_id=command_id)
    if outcome.appended:
        await rt.wait_for(VIEW, outcome.version)
    return outcome


async def reply(rt: Runtime, delivery: Delivery, row, operator_id: str, text: str, command_id: str | None) -> None:
    outcome = await _run(rt, row, lambda s: tk.reply(s, row["ticket_id"], operator_id, text), operator_id, command_id)
    if outcome.appended and row["conversation_id"]:
        await delivery.send(row["conversation_id"], [BotMessage(text=text.strip())], sender="operator",
                            retry_key=outcome.appended[-1].envelope.id)


async def change_status(rt: Runtime, row, operator_id: str, status: str, command_id: str | None) -> None:
    await _run(rt, row, lambda s: tk.change_status(s, row["ticket_id"], status, operator_id), operator_id, command_id)


async def dispatch(rt: Runtime, delivery: Delivery, row, operator_id: str, reason: str,
                   requested_for: datetime | None, command_id: str | None) -> None:
    outcome = await _run(rt, row, lambda s: tk.request_dispatch(s, row["ticket_id"], operator_id, reason, requested_for),
                         operator_id, command_id)
    if outcome.appended and row["conversation_id"]:
        await _say(rt, delivery, row, ja.DISPATCH, outcome.appended[0].envelope.id)


async def close(rt: Runtime, delivery: Delivery, row, operator_id: str, resolution: str, command_id: str | None) -> None:
    outcome = await _run(rt, row, lambda s: tk.close(s, row["ticket_id"], operator_id, resolution), operator_id, command_id)
    if outcome.appended and row["conversation_id"]:
        await _say(rt, delivery, row, ja.HANDOFF_ENDED, outcome.appended[0].envelope.id)


async def _say(rt: Runtime, delivery: Delivery, row, text: str, cause_id: str) -> None:
    """A system message to the customer, recorded once even if the command is retried."""
    tenant = Tenant(row["partner_id"], row["company_id"])
    msg = BotMessage(text=text)
    await delivery.record(tenant, row["conversation_id"], "system", msg, event_id=derived_id(cause_id, 99))
    await delivery.send(row["conversation_id"], [msg], sender="system", retry_key=derived_id(cause_id, 98))
