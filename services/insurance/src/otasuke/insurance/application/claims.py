"""Claims: started from an incident ticket or an alert, with the evidence read from the streams."""
from __future__ import annotations

from otasuke.events import AggregateRef, DomainError, EventMeta, EventStore, Tenant, execute, load
from otasuke.events.schemas.helpdesk import TicketOpened
from otasuke.events.schemas.insurance import ClaimOpened
from otasuke.events.schemas.telemetry import AlertEscalated

from ..domain import claim, evidence


def claim_ref(tenant: Tenant, claim_id: str) -> AggregateRef:
    return AggregateRef("insurance", tenant, claim.AGGREGATE_TYPE, claim_id)


async def incident_events(store: EventStore, tenant: Tenant, *, ticket_id: str | None, alert_id: str | None):
    """Every event of the ticket and of the alerts it names (or the one alert), in stream order.

    The subjects carry the tenant, so a claim can only ever gather its own
    company's ticket and alerts.
    """
    envelopes = []
    alert_ids: list[str] = [alert_id] if alert_id else []
    if ticket_id:
        recs, _ = await store.load(AggregateRef("helpdesk", tenant, "ticket", ticket_id))
        envelopes += [r.envelope for r in recs]
        for r in recs:
            if isinstance(r.envelope.data, TicketOpened) and r.envelope.data.alert_id:
                alert_ids.append(r.envelope.data.alert_id)
    for aid in dict.fromkeys(alert_ids):
        recs, _ = await store.load(AggregateRef("telemetry", tenant, "alert", aid))
        envelopes += [r.envelope for r in recs]
        for r in recs:
            if isinstance(r.envelope.data, AlertEscalated) and r.envelope.data.ticket_id and not ticket_id:
                # The alert was handed to an operator: that ticket's actions belong to the story too.
                more, _ = await store.load(AggregateRef("helpdesk", tenant, "ticket", r.envelope.data.ticket_id))
                envelopes += [m.envelope for m in more]
    return envelopes, list(dict.fromkeys(alert_ids))


async def open_claim(
    store: EventStore,
    pool,
    *,
    tenant: Tenant,
    ticket_id: str | None,
    alert_id: str | None,
    description: str,
    actor: str,
):
    if not ticket_id and not alert_id:
        raise DomainError("give the ticket_id or the alert_id of the incident")
    envelopes, alert_ids = await incident_events(store, tenant, ticket_id=ticket_id, alert_id=alert_id)
    if ticket_id and not any(e.type.startswith("helpdesk.") for e in envelopes):
        raise DomainError(f"no ticket {ticket_id} for this company")
    if alert_id and not ticket_id and not envelopes:
        raise DomainError(f"no alert {alert_id} for this company")
    rows = await pool.fetch(
        "SELECT policy_id FROM ins_policies WHERE company_id=$1 AND status='active' ORDER BY tier, policy_id", tenant.company_id
    )
    claim_id = claim.claim_id_for(tenant.company_id, ticket_id=ticket_id, alert_id=alert_id)
    summary = description
    if not summary:
        opened = next((e.data for e in envelopes if isinstance(e.data, TicketOpened)), None)
        summary = opened.summary if opened else ""
    command = ClaimOpened(
        claim_id=claim_id,
        policy_ids=[r["policy_id"] for r in rows],
        ticket_id=ticket_id,
        alert_ids=alert_ids,
        incident_category=evidence.incident_category(envelopes),
        description=summary,
        evidence=evidence.timeline(envelopes),
        opened_by=actor,
    )
    outcome = await execute(
        store, claim.CLAIM, claim_ref(tenant, claim_id), lambda s: claim.open_claim(s, command), meta=EventMeta(actor=actor)
    )
    return claim_id, outcome


async def change_status(store: EventStore, pool, *, tenant: Tenant, claim_id: str, status: str, note: str, paid_yen: int | None, actor: str):
    state, _ = await load(store, claim.CLAIM, claim_ref(tenant, claim_id))
    limit = None
    if state.opened is not None and state.opened.policy_ids:
        limit = await pool.fetchval(
            "SELECT COALESCE(SUM(aggregate_limit_yen), 0) FROM ins_policies WHERE policy_id = ANY($1::text[])",
            state.opened.policy_ids,
        )
    return await execute(
        store, claim.CLAIM, claim_ref(tenant, claim_id),
        lambda s: claim.change_status(s, claim_id=claim_id, status=status, note=note, paid_yen=paid_yen, limit_yen=limit),
        meta=EventMeta(actor=actor),
    )
