"""Recording what recipients do with a training mail (reached through their personal links).

Every first action of a kind gets an event id derived from the recipient, so
double clicks and retried requests are stored once; later repeats are not
recorded at all (the read model keeps the first time only).
"""
from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from otasuke.events import EventMeta, Tenant
from otasuke.events.envelope import derived_id, new_id
from otasuke.events.schemas import training as ev
from otasuke.platform.service import Runtime

from ..domain import campaign as domain
from ..domain.automated_requests import automated_reason
from .campaigns import ref
from .read_model import RESULTS_PROJECTION

TOKEN_COLUMNS = """r.recipient_id, r.campaign_id, r.partner_id, r.company_id, r.name, r.email, r.department,
    r.sent_at, r.opened_at, r.clicked_at, r.submitted_at, r.reported_at, r.pre_started_at, r.pre_completed_at,
    r.post_started_at, r.post_completed_at, c.template_id, c.name AS campaign_name"""


async def recipient_by_token(rt: Runtime, token: str):
    if not token.isalnum() or len(token) > 64:
        return None
    return await rt.pool.fetchrow(
        f"SELECT {TOKEN_COLUMNS} FROM recipients r JOIN campaigns c USING (campaign_id) WHERE r.recipient_id=$1",
        token,
    )


async def _append(rt: Runtime, row, payload: msgspec.Struct, event_id: str, *, wait: bool = True) -> None:
    tenant = Tenant(row["partner_id"], row["company_id"])
    [rec] = await rt.store.append(
        ref(tenant, domain.RECIPIENT, row["recipient_id"]), [payload], expected_seq=None,
        meta=EventMeta(actor=f"recipient:{row['recipient_id']}", correlation_id=row["campaign_id"]),
        event_ids=[event_id],
    )
    if wait:
        await rt.wait_for(RESULTS_PROJECTION, rec.seq)


async def _automated(rt: Runtime, row, action: str, reason: str, user_agent: str, now: datetime) -> None:
    await _append(
        rt, row,
        ev.AutomatedRequestRecorded(campaign_id=row["campaign_id"], at=now, action=action,  # type: ignore[arg-type]
                                    reason=reason, user_agent=user_agent[:300]),
        new_id(), wait=False,
    )


async def record_open(rt: Runtime, row, *, method: str, user_agent: str) -> bool:
    """Count an open unless a scanner fetched the pixel; True if it counted."""
    now = datetime.now(UTC)
    # Time since delivery is no sign for opens: a reader may have the mailbox open.
    reason = automated_reason(method=method, user_agent=user_agent, sent_at=None, at=now, min_human_seconds=0)
    if reason:
        await _automated(rt, row, "open", reason, user_agent, now)
        return False
    if row["opened_at"] is None:
        await _append(rt, row, ev.MailOpened(campaign_id=row["campaign_id"], at=now), derived_id(f"{row['recipient_id']}:open"), wait=False)
    return True


async def record_click(rt: Runtime, row, *, method: str, user_agent: str, min_human_seconds: float) -> bool:
    now = datetime.now(UTC)
    reason = automated_reason(
        method=method, user_agent=user_agent, sent_at=row["sent_at"], at=now, min_human_seconds=min_human_seconds
    )
    if reason:
        await _automated(rt, row, "click", reason, user_agent, now)
        return False
    if row["clicked_at"] is None:
        await _append(
            rt, row, ev.LinkClicked(campaign_id=row["campaign_id"], at=now, user_agent=user_agent[:300]),
            derived_id(f"{row['recipient_id']}:click"),
        )
    return True


async def record_submit(rt: Runtime, row) -> None:
    if row["submitted_at"] is None:
        await _append(
            rt, row, ev.FormSubmitted(campaign_id=row["campaign_id"], at=datetime.now(UTC)),
            derived_id(f"{row['recipient_id']}:submit"),
        )


async def record_report(rt: Runtime, row, channel: str) -> bool:
    """True if this was the first report of this mail."""
    if row["reported_at"] is not None:
        return False
    await _append(
        rt, row, ev.MailReported(campaign_id=row["campaign_id"], at=datetime.now(UTC), channel=channel),  # type: ignore[arg-type]
        derived_id(f"{row['recipient_id']}:report"),
    )
    return True


async def record_learning_started(rt: Runtime, row, stage: str) -> None:
    if row[f"{stage}_started_at"] is None:
        await _append(
            rt, row, ev.LearningStarted(campaign_id=row["campaign_id"], stage=stage, at=datetime.now(UTC)),  # type: ignore[arg-type]
            derived_id(f"{row['recipient_id']}:learn:{stage}"), wait=False,
        )


async def record_learning_completed(rt: Runtime, row, stage: str, score: int, questions: int) -> None:
    await _append(
        rt, row,
        ev.LearningCompleted(campaign_id=row["campaign_id"], stage=stage, at=datetime.now(UTC),  # type: ignore[arg-type]
                             score=score, questions=questions),
        new_id(),
    )
