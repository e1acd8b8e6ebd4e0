"""Service activation: when enrolment activates UTM or EDR for a company, start monitoring it."""
from __future__ import annotations

from otasuke.events import AggregateRef, EventMeta, Reactor, Recorded, Tenant
from otasuke.events.aggregate import Aggregate
from otasuke.events.schemas.enrolment import ServiceActivated, ServiceEnded
from otasuke.events.schemas.telemetry import MonitoringStarted, MonitoringStopped
from otasuke.events.streams import ENROLMENT

from ..domain import monitoring

# Activations are idempotent per enrolment event (command id), so no state is needed.
_STATELESS = Aggregate(lambda: None, lambda s, e: s)


class ServiceActivation(Reactor):
    name = "telemetry.service_activation"
    stream = ENROLMENT.name
    filter_subjects = ("enrolment.>",)
    event_types = frozenset({"enrolment.service_activated", "enrolment.service_ended"})

    def __init__(self, store):
        self.store = store

    async def handle(self, rec: Recorded) -> None:
        from otasuke.events import execute

        env = rec.envelope
        d = env.data
        if getattr(d, "service", None) not in monitoring.MONITORED_SERVICES or env.company_id is None:
            return
        if isinstance(d, ServiceActivated):
            payload = MonitoringStarted(service=d.service, since=d.activated_on, expected_devices=d.devices)
        elif isinstance(d, ServiceEnded):
            payload = MonitoringStopped(service=d.service, since=d.ended_on, reason=d.reason)
        else:
            return
        ref = AggregateRef("telemetry", Tenant(env.partner_id, env.company_id), monitoring.AGGREGATE_TYPE, env.company_id)
        await execute(self.store, _STATELESS, ref, lambda _s: [payload],
                      meta=EventMeta.caused_by(env), command_id=env.id)
