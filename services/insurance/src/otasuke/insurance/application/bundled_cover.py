"""Bundled (first-floor) cover follows the UTM/EDR service: issued on activation, ended with the service, renewed while it runs."""
from __future__ import annotations

import logging
from datetime import date

from otasuke.events import AggregateRef, EventMeta, EventStore, Reactor, Recorded, Tenant, execute
from otasuke.events.schemas.enrolment import ServiceActivated, ServiceEnded
from otasuke.events.streams import ENROLMENT

from ..domain import policy
from ..tables import current_tables

log = logging.getLogger(__name__)


def policy_ref(tenant: Tenant, policy_id: str) -> AggregateRef:
    return AggregateRef("insurance", tenant, policy.AGGREGATE_TYPE, policy_id)


class BundledCover(Reactor):
    name = "insurance.bundled_cover"
    stream = ENROLMENT.name
    filter_subjects = ("enrolment.>",)
    event_types = frozenset({"enrolment.service_activated", "enrolment.service_ended"})

    def __init__(self, store: EventStore):
        self.store = store

    async def handle(self, rec: Recorded) -> None:
        env, d = rec.envelope, rec.envelope.data
        tables = current_tables()
        if env.company_id is None or d.service not in tables.bundled.services:
            return
        policy_id = policy.bundled_policy_id(env.company_id, d.application_id)
        ref = policy_ref(env.tenant, policy_id)
        meta = EventMeta.caused_by(env)
        # The policy id follows from the application and the events' ids from the
        # activation event, so redelivery or a repeated activation adds nothing.
        if isinstance(d, ServiceActivated):
            outcome = await execute(
                self.store, policy.POLICY, ref,
                lambda s: policy.issue_bundled(
                    s, policy_id=policy_id, tables=tables, service=d.service,
                    application_id=d.application_id, activated_on=d.activated_on,
                ),
                meta=meta, command_id=env.id,
            )
        elif isinstance(d, ServiceEnded):
            outcome = await execute(
                self.store, policy.POLICY, ref,
                lambda s: policy.end(s, policy_id=policy_id, ended_on=d.ended_on, reason=f"service_ended: {d.reason}"),
                meta=meta, command_id=env.id,
            )
        else:
            return
        if outcome.appended:
            log.info("bundled policy %s: %s", policy_id, [r.envelope.type for r in outcome.appended])


async def renew_due_policies(store: EventStore, pool, today: date) -> list[str]:
    """Renew bundled policies whose period ended while their service is still active; returns their ids.

    Safe to run any number of times: each renewal's event id is derived from the
    policy and the period it closes.
    """
    tables = current_tables()
    rows = await pool.fetch(
        """SELECT p.policy_id, p.partner_id, p.company_id, p.ends_on FROM ins_policies p
           JOIN company_services s ON s.company_id = p.company_id AND s.application_id = p.application_id AND s.active
           WHERE p.tier = 'bundled' AND p.status = 'active' AND p.ends_on <= $1""",
        today,
    )
    renewed = []
    for row in rows:
        ref = policy_ref(Tenant(row["partner_id"], row["company_id"]), row["policy_id"])
        ends_on = row["ends_on"]
        while ends_on <= today:  # catch up over several missed periods, one event each
            outcome = await execute(
                store, policy.POLICY, ref,
                lambda s: policy.renew_if_due(s, policy_id=row["policy_id"], today=today, tables=tables),
                meta=EventMeta(actor="system"), command_id=f"renew:{row['policy_id']}:{ends_on.isoformat()}",
            )
            if not outcome.appended:
                break
            ends_on = outcome.state.ends_on
            renewed.append(row["policy_id"])
    return renewed
