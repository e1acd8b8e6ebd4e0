"""The campaign aggregate: its lifecycle (active → paused ⇄ active → cancelled | completed).

Recipients and their send times are a separate aggregate (``targets``) so that
pausing a 100,000-recipient campaign does not have to load every recipient.
"""
from __future__ import annotations

from typing import Literal

import msgspec

from otasuke.events import Aggregate, DomainError, Envelope
from otasuke.events.schemas.training import (
    CampaignCancelled,
    CampaignCompleted,
    CampaignCreated,
    CampaignPaused,
    CampaignResumed,
    LearningInvitationsRequested,
    RecipientsScheduled,
)

CAMPAIGN = "campaign"
TARGETS = "targets"
DISPATCH = "dispatch"
RECIPIENT = "recipient"

Status = Literal["new", "active", "paused", "cancelled", "completed"]

BATCH_SIZE = 500
"""Recipients per ``recipients_scheduled`` event (keeps each message well under NATS's 1 MB)."""


class Campaign(msgspec.Struct, frozen=True):
    status: Status = "new"
    created: CampaignCreated | None = None
    invited: frozenset[str] = frozenset()
    """Learning stages whose invitations were requested."""


def evolve(state: Campaign, env: Envelope) -> Campaign:
    data = env.data
    if isinstance(data, CampaignCreated):
        return Campaign("active", data)
    if isinstance(data, CampaignPaused):
        return msgspec.structs.replace(state, status="paused")
    if isinstance(data, CampaignResumed):
        return msgspec.structs.replace(state, status="active")
    if isinstance(data, CampaignCancelled):
        return msgspec.structs.replace(state, status="cancelled")
    if isinstance(data, CampaignCompleted):
        return msgspec.structs.replace(state, status="completed")
    if isinstance(data, LearningInvitationsRequested):
        return msgspec.structs.replace(state, invited=state.invited | {data.stage})
    return state


CAMPAIGN_AGGREGATE = Aggregate(initial=Campaign, evolve=evolve)


def create(state: Campaign, command: CampaignCreated) -> list[CampaignCreated]:
    """Create once; the same command again (a client retry) is a no-op."""
    if state.created is not None:
        if state.created.template_id == command.template_id and state.created.name == command.name:
            return []
        raise DomainError(f"campaign {command.campaign_id} already exists with other settings")
    return [command]


def pause(state: Campaign, campaign_id: str) -> list[CampaignPaused]:
    _exists(state)
    if state.status == "paused":
        return []
    if state.status != "active":
        raise DomainError(f"a {state.status} campaign cannot be paused")
    return [CampaignPaused(campaign_id=campaign_id)]


def resume(state: Campaign, campaign_id: str) -> list[CampaignResumed]:
    _exists(state)
    if state.status == "active":
        return []
    if state.status != "paused":
        raise DomainError(f"a {state.status} campaign cannot be resumed")
    return [CampaignResumed(campaign_id=campaign_id)]


def cancel(state: Campaign, campaign_id: str, reason: str = "") -> list[CampaignCancelled]:
    _exists(state)
    if state.status == "cancelled":
        return []
    if state.status == "completed":
        raise DomainError("a completed campaign cannot be cancelled")
    return [CampaignCancelled(campaign_id=campaign_id, reason=reason)]


def complete(state: Campaign, results: CampaignCompleted) -> list[CampaignCompleted]:
    """Close the campaign with its final counts (once)."""
    _exists(state)
    if state.status == "completed":
        return []
    return [results]


def invite(state: Campaign, campaign_id: str, stage: str) -> list[LearningInvitationsRequested]:
    """Invite everyone to a learning page once per stage; pre-learning only before the lure goes out."""
    _exists(state)
    if stage in state.invited:
        return []
    if state.status == "cancelled":
        raise DomainError("a cancelled campaign sends no invitations")
    return [LearningInvitationsRequested(campaign_id=campaign_id, stage=stage)]  # type: ignore[arg-type]


def _exists(state: Campaign) -> None:
    if state.created is None:
        raise DomainError("no such campaign")


# -- targets: recipients in batches -------------------------------------------------

class Targets(msgspec.Struct, frozen=True):
    batches: int = 0


def evolve_targets(state: Targets, env: Envelope) -> Targets:
    if isinstance(env.data, RecipientsScheduled):
        return Targets(max(state.batches, env.data.batch + 1))
    return state


TARGETS_AGGREGATE = Aggregate(initial=Targets, evolve=evolve_targets)


def missing_batches(state: Targets, batches: list[RecipientsScheduled]) -> list[RecipientsScheduled]:
    """The batches not yet stored (a retried creation stores only what is missing)."""
    return [b for b in batches if b.batch >= state.batches]
