"""Application commands: apply, move through the statuses, record contacts with the customer."""
from __future__ import annotations

from datetime import datetime

from otasuke.events import AggregateRef, EventMeta, Tenant, execute, new_id, utcnow
from otasuke.events.schemas.enrolment import CustomerContacted, PreferredDate, ServiceApplied
from otasuke.platform.service import Runtime

from ..domain import application as ap
from ..domain.business_hours import JST

VIEW = "helpdesk_bot.applications"


def ref(tenant: Tenant, application_id: str) -> AggregateRef:
    return AggregateRef("enrolment", tenant, ap.AGGREGATE_TYPE, application_id)


async def _done(rt: Runtime, outcome) -> None:
    if outcome.appended:
        await rt.wait_for(VIEW, outcome.version)


async def apply(rt: Runtime, tenant: Tenant, *, service: str, channel: str, devices: int | None, note: str | None,
                actor: str, command_id: str | None, preferred_dates: list[PreferredDate] | None = None,
                contact_name: str | None = None, contact_phone: str | None = None) -> str:
    application_id = new_id() if command_id is None else f"app-{command_id}"[:128]
    command = ServiceApplied(application_id=application_id, service=service, channel=channel, devices=devices, note=note,
                             preferred_dates=list(preferred_dates or []), contact_name=contact_name,
                             contact_phone=contact_phone)
    await _done(rt, await execute(rt.store, ap.APPLICATION, ref(tenant, application_id), lambda s: ap.apply(s, command),
                                  meta=EventMeta(actor=actor), command_id=command_id))
    return application_id


async def change_status(rt: Runtime, row, *, status: str, scheduled_for: datetime | None, reason: str | None,
                        actor: str, command_id: str | None) -> None:
    tenant = Tenant(row["partner_id"], row["company_id"])
    today = utcnow().astimezone(JST).date()
    await _done(rt, await execute(
        rt.store, ap.APPLICATION, ref(tenant, row["application_id"]),
        lambda s: ap.change_status(s, row["application_id"], status, today=today, scheduled_for=scheduled_for, reason=reason),
        meta=EventMeta(actor=actor), command_id=command_id))


async def record_contact(rt: Runtime, row, *, operator_id: str, channel: str, summary: str, command_id: str | None) -> None:
    tenant = Tenant(row["partner_id"], row["company_id"])
    command = CustomerContacted(application_id=row["application_id"], operator_id=operator_id, channel=channel, summary=summary)
    await _done(rt, await execute(rt.store, ap.APPLICATION, ref(tenant, row["application_id"]),
                                  lambda s: ap.record_contact(s, command), meta=EventMeta(actor=operator_id),
                                  command_id=command_id))
