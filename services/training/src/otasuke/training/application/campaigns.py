"""Campaign commands: create (with the recipients' planned times), pause, resume, cancel, close."""
from __future__ import annotations

from datetime import datetime, timedelta

from otasuke.events import AggregateRef, DomainError, EventMeta, Tenant, execute, load
from otasuke.events.envelope import derived_id
from otasuke.events.schemas import training as ev
from otasuke.platform.service import Runtime

from ..domain import campaign as domain
from ..domain.lures import get_lure
from ..domain.message import UnencodableText
from ..domain.schedule import NoBusinessTime, immediate_send_times, plan_send_times
from ..domain.target_list import Target, recipient_token
from .read_model import RESULTS_PROJECTION
from .results import campaign_results


def ref(tenant: Tenant, aggregate_type: str, aggregate_id: str) -> AggregateRef:
    return AggregateRef("training", tenant, aggregate_type, aggregate_id)


async def create_campaign(
    rt: Runtime,
    tenant: Tenant,
    *,
    campaign_id: str,
    name: str,
    template_id: str,
    targets: list[Target],
    mode: ev.ScheduleMode,
    window_start: datetime,
    window_end: datetime,
    sender: ev.Sender | None,
    charset: str,
    sender_domain: str,
    actor: str,
    now: datetime,
) -> int:
    """Append the campaign and its recipient batches; returns the last stream sequence."""
    lure = get_lure(template_id)
    if lure is None:
        raise DomainError(f"unknown template_id {template_id!r}: see GET /api/v1/templates")
    if charset == "iso-2022-jp":
        for t in targets:
            try:
                t.name.encode("iso-2022-jp")
            except UnicodeEncodeError as exc:
                raise DomainError(f"recipient {t.email}: name cannot be written in ISO-2022-JP; use utf-8") from exc
    if mode == "immediate":
        times = immediate_send_times(len(targets), now)
    else:
        try:
            times = plan_send_times(
                [t.department for t in targets], window_start=window_start, window_end=window_end, seed=campaign_id
            )
        except NoBusinessTime as exc:
            raise DomainError(str(exc)) from exc
    sender = sender or ev.Sender(name=lure.sender_name, address=f"{lure.sender_local}@{sender_domain}")
    try:
        sender.name.encode(charset)
    except UnicodeEncodeError as exc:
        raise DomainError(str(UnencodableText(f"sender name cannot be written in {charset}"))) from exc
    key = rt.settings.require_signing_key()
    planned = [
        ev.PlannedRecipient(
            recipient_id=recipient_token(key, campaign_id, t.email), email=t.email, name=t.name,
            department=t.department, position=t.position, manager=t.manager, send_at=at,
        )
        for t, at in zip(targets, times)
    ]
    created = ev.CampaignCreated(
        campaign_id=campaign_id, name=name, template_id=template_id, mode=mode,
        window_start=window_start, window_end=window_end, recipients=len(planned), sender=sender,
        charset=charset,  # type: ignore[arg-type]
    )
    meta = EventMeta(actor=actor, correlation_id=campaign_id)
    outcome = await execute(
        rt.store, domain.CAMPAIGN_AGGREGATE, ref(tenant, domain.CAMPAIGN, campaign_id),
        lambda s: domain.create(s, created), meta=meta, command_id=f"{campaign_id}:create",
    )
    last = outcome.version
    batches = [
        ev.RecipientsScheduled(campaign_id=campaign_id, batch=i // domain.BATCH_SIZE,
                               recipients=planned[i:i + domain.BATCH_SIZE])
        for i in range(0, len(planned), domain.BATCH_SIZE)
    ]
    targets_ref = ref(tenant, domain.TARGETS, campaign_id)
    state, version = await load(rt.store, domain.TARGETS_AGGREGATE, targets_ref)
    missing = domain.missing_batches(state, batches)
    if missing:
        ids = [derived_id(f"{campaign_id}:targets", b.batch) for b in missing]
        recorded = await rt.store.append(targets_ref, missing, expected_seq=version, meta=meta, event_ids=ids)
        last = recorded[-1].seq
    return last


async def change_status(rt: Runtime, tenant: Tenant, campaign_id: str, action: str, actor: str, reason: str = "") -> int:
    decide = {
        "invite-pre": lambda s: domain.invite(s, campaign_id, "pre"),
        "invite-post": lambda s: domain.invite(s, campaign_id, "post"),
        "pause": lambda s: domain.pause(s, campaign_id),
        "resume": lambda s: domain.resume(s, campaign_id),
        "cancel": lambda s: domain.cancel(s, campaign_id, reason),
    }[action]
    outcome = await execute(
        rt.store, domain.CAMPAIGN_AGGREGATE, ref(tenant, domain.CAMPAIGN, campaign_id), decide,
        meta=EventMeta(actor=actor, correlation_id=campaign_id),
    )
    await rt.wait_for(RESULTS_PROJECTION, outcome.version)
    return outcome.version


async def close_campaign(rt: Runtime, campaign_row, actor: str) -> int:
    """Publish the final results (``training.campaign_completed``) for other services."""
    tenant = Tenant(campaign_row["partner_id"], campaign_row["company_id"])
    results = await campaign_results(rt.pool, campaign_row)
    completed = ev.CampaignCompleted(
        campaign_id=results.campaign_id, name=results.name, template_id=results.template_id,
        recipients=results.recipients, sent=results.sent, opened=results.opened, clicked=results.clicked,
        submitted=results.submitted, reported=results.reported, learning_completed=results.learning_completed,
        first_sent_at=results.first_sent_at, median_seconds_to_click=results.median_seconds_to_click,
        departments=[
            ev.DepartmentCounts(
                department=d.department, recipients=d.recipients, sent=d.sent, opened=d.opened, clicked=d.clicked,
                submitted=d.submitted, reported=d.reported, learning_completed=d.learning_completed,
            )
            for d in results.departments
        ],
    )
    outcome = await execute(
        rt.store, domain.CAMPAIGN_AGGREGATE, ref(tenant, domain.CAMPAIGN, results.campaign_id),
        lambda s: domain.complete(s, completed), meta=EventMeta(actor=actor, correlation_id=results.campaign_id),
        command_id=f"{results.campaign_id}:complete",
    )
    await rt.wait_for(RESULTS_PROJECTION, outcome.version)
    return outcome.version


async def close_finished_campaigns(rt: Runtime, observe: timedelta, now: datetime) -> int:
    """Close campaigns whose last mail went out more than ``observe`` ago."""
    rows = await rt.pool.fetch(
        """SELECT c.* FROM campaigns c WHERE c.status IN ('active','cancelled')
           AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.campaign_id=c.campaign_id
                           AND r.status IN ('scheduled','dispatching'))
           AND (SELECT max(sent_at) FROM recipients r WHERE r.campaign_id=c.campaign_id) < $1
           LIMIT 20""",
        now - observe,
    )
    for row in rows:
        await close_campaign(rt, row, actor="system")
    return len(rows)
