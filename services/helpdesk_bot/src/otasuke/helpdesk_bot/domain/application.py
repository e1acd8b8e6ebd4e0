"""The service application aggregate: one company's application for one service.

provisional → confirmed → site_survey → installation_scheduled → installed → active,
or cancelled (with a reason) from any status before active. Steps may be skipped
forward (diagnosis needs no site survey) but never go back.
"""
from __future__ import annotations

from datetime import date, datetime

import msgspec

from otasuke.events import Aggregate, DomainError, Envelope
from otasuke.events.schemas.enrolment import (
    ApplicationStatusChanged,
    CustomerContacted,
    ServiceActivated,
    ServiceApplied,
)

AGGREGATE_TYPE = "application"
FLOW = ("provisional", "confirmed", "site_survey", "installation_scheduled", "installed", "active")


class Application(msgspec.Struct, frozen=True):
    status: str = "none"
    service: str = ""
    devices: int | None = None


def evolve(state: Application, env: Envelope) -> Application:
    d = env.data
    if isinstance(d, ServiceApplied):
        return Application("provisional", d.service, d.devices)
    if isinstance(d, ApplicationStatusChanged):
        return msgspec.structs.replace(state, status=d.status)
    return state


APPLICATION = Aggregate(initial=Application, evolve=evolve)


def apply(state: Application, command: ServiceApplied) -> list[ServiceApplied]:
    if state.status != "none":
        return []
    if command.devices is not None and command.devices < 0:
        raise DomainError("devices must be zero or more")
    return [command]


def change_status(
    state: Application, application_id: str, status: str, *, today: date,
    scheduled_for: datetime | None = None, reason: str | None = None,
) -> list:
    if state.status == "none":
        raise DomainError("no such application")
    if state.status in ("cancelled", "active"):
        raise DomainError(f"the application is already {state.status}")
    if status == "cancelled":
        if not (reason or "").strip():
            raise DomainError("a cancellation needs a reason")
        return [ApplicationStatusChanged(application_id=application_id, service=state.service, status="cancelled", reason=reason)]
    if status not in FLOW:
        raise DomainError(f"unknown status {status!r}; use one of {', '.join(FLOW)} or cancelled")
    if status == state.status and scheduled_for is None:
        return []
    if FLOW.index(status) < FLOW.index(state.status):
        raise DomainError(f"an application cannot go back from {state.status} to {status}")
    events: list = [ApplicationStatusChanged(
        application_id=application_id, service=state.service, status=status, scheduled_for=scheduled_for, reason=reason,
    )]
    if status == "active":
        events.append(ServiceActivated(application_id=application_id, service=state.service, activated_on=today, devices=state.devices))
    return events


def record_contact(state: Application, command: CustomerContacted) -> list[CustomerContacted]:
    if state.status == "none":
        raise DomainError("no such application")
    if not command.summary.strip():
        raise DomainError("say what was discussed")
    return [command]
