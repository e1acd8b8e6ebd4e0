"""Events of the insurance context: policies (bundled and top-up), quotes, claims.

Aggregates:

* ``policy`` (id = policy id). A bundled (first-floor, 商品付帯) policy's id is
  derived from the company and the service application it comes with, so one
  activation gives one policy whatever the redeliveries.
* ``quote`` (id = quote id). A quote carries every input of its price (the
  request, the diagnosis snapshot and the pricing-table version), so it can be
  recomputed from the event alone.
* ``claim`` (id = claim id), opened from a help-desk ticket or an alert with the
  evidence gathered from the streams, then moved through its statuses to settlement.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Literal

import msgspec

from ..registry import event

Tier = Literal["bundled", "top_up"]
ClaimStatus = Literal["opened", "documents_requested", "under_review", "approved", "denied", "settled", "withdrawn"]


class CoverLimit(msgspec.Struct, frozen=True, kw_only=True):
    """One cover item of a policy: what it pays for and up to how much (yen)."""

    key: str
    """Stable key, e.g. ``investigation``, ``recovery``, ``third_party_liability``."""
    label_ja: str
    limit_yen: int
    deductible_yen: int = 0


@event("insurance.policy_issued", producer="insurance", consumers=("insurance", "helpdesk_bot"))
class PolicyIssued(msgspec.Struct, frozen=True, kw_only=True):
    """A policy was issued: bundled cover when a UTM/EDR service went live, or a top-up bought from a quote."""

    policy_id: str
    tier: Tier
    product: str
    """Product key in the pricing tables (``bundled_first_response``, ``top_up``)."""
    starts_on: date
    ends_on: date
    covers: list[CoverLimit]
    aggregate_limit_yen: int
    annual_premium_yen: int = 0
    """0 for bundled cover: it is paid for within the service fee."""
    service: str | None = None
    application_id: str | None = None
    quote_id: str | None = None
    table_version: str = ""


@event("insurance.policy_renewed", producer="insurance", consumers=("insurance", "helpdesk_bot"))
class PolicyRenewed(msgspec.Struct, frozen=True, kw_only=True):
    """A policy was renewed for a new period (bundled cover renews while its service stays active)."""

    policy_id: str
    starts_on: date
    ends_on: date
    reason: str = "service_active"


@event("insurance.policy_ended", producer="insurance", consumers=("insurance", "helpdesk_bot"))
class PolicyEnded(msgspec.Struct, frozen=True, kw_only=True):
    """A policy stopped covering new incidents (its service ended, it lapsed or was cancelled)."""

    policy_id: str
    ended_on: date
    reason: str


class DiagnosisSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The diagnosis a quote was priced from, copied so the quote stands on its own."""

    diagnosis_id: str
    score: int
    max_score: int = 1000
    band: str = ""
    not_implemented: list[str] = []
    unknown: list[str] = []


class QuoteCondition(msgspec.Struct, frozen=True, kw_only=True):
    """Something to fix before renewal, triggered by a diagnosis answer."""

    key: str
    text_ja: str
    question_ids: list[str] = []
    surcharge_pct: int = 0


class PriceStep(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the price build-up, in the order applied."""

    label_ja: str
    factor: float = 1.0
    amount_yen: int = 0


@event("insurance.quote_issued", producer="insurance", consumers=("insurance", "helpdesk_bot"))
class QuoteIssued(msgspec.Struct, frozen=True, kw_only=True):
    """A top-up (second-floor) quote with every input of its price: request, diagnosis snapshot, table version."""

    quote_id: str
    table_version: str
    industry: str
    revenue_band: str
    plan: str
    diagnosis: DiagnosisSnapshot | None
    premium_yen: int
    steps: list[PriceStep]
    conditions: list[QuoteCondition]
    covers: list[CoverLimit]
    aggregate_limit_yen: int
    valid_until: date


@event("insurance.quote_accepted", producer="insurance", consumers=("insurance",))
class QuoteAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """The company accepted a quote; a top-up policy is issued from it."""

    quote_id: str
    policy_id: str


class EvidenceItem(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of a claim's timeline, copied from an event in another stream."""

    at: str
    """ISO timestamp of the original event."""
    source: Literal["alert", "ticket", "note"]
    event_type: str
    event_id: str
    summary_ja: str
    data: dict[str, Any] = {}


@event("insurance.claim_opened", producer="insurance", consumers=("insurance", "helpdesk_bot"))
class ClaimOpened(msgspec.Struct, frozen=True, kw_only=True):
    """A claim was started from an incident ticket or an alert, with the evidence gathered automatically."""

    claim_id: str
    policy_ids: list[str]
    ticket_id: str | None = None
    alert_ids: list[str] = []
    incident_category: str | None = None
    description: str = ""
    evidence: list[EvidenceItem] = []
    opened_by: str = ""


@event("insurance.claim_evidence_added", producer="insurance", consumers=("insurance",))
class ClaimEvidenceAdded(msgspec.Struct, frozen=True, kw_only=True):
    """More evidence reached the claim (later ticket actions, a resolved alert, a note)."""

    claim_id: str
    evidence: list[EvidenceItem]


@event("insurance.claim_status_changed", producer="insurance", consumers=("insurance", "helpdesk_bot"))
class ClaimStatusChanged(msgspec.Struct, frozen=True, kw_only=True):
    """The insurer moved a claim to a new status; ``paid_yen`` when settled."""

    claim_id: str
    status: ClaimStatus
    note: str = ""
    paid_yen: int | None = None
