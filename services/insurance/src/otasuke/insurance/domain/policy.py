"""The policy aggregate: bundled (first-floor) cover that follows a service, and top-up cover bought from a quote."""
from __future__ import annotations

import calendar
from datetime import date

import msgspec

from otasuke.events import Aggregate, DomainError, Envelope, derived_id
from otasuke.events.schemas.insurance import PolicyEnded, PolicyIssued, PolicyRenewed, QuoteIssued

from .pricing_tables import PricingTables

AGGREGATE_TYPE = "policy"


class Policy(msgspec.Struct, frozen=True):
    issued: PolicyIssued | None = None
    status: str = "none"
    """none → active → ended (and active again when its service comes back)."""
    starts_on: date | None = None
    ends_on: date | None = None
    ended_on: date | None = None


def evolve(state: Policy, env: Envelope) -> Policy:
    data = env.data
    if isinstance(data, PolicyIssued):
        return Policy(data, "active", data.starts_on, data.ends_on)
    if isinstance(data, PolicyRenewed):
        return msgspec.structs.replace(state, status="active", starts_on=data.starts_on, ends_on=data.ends_on, ended_on=None)
    if isinstance(data, PolicyEnded):
        return msgspec.structs.replace(state, status="ended", ended_on=data.ended_on)
    return state


POLICY = Aggregate(initial=Policy, evolve=evolve)


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def bundled_policy_id(company_id: str, application_id: str) -> str:
    """Deterministic: one service application of one company has one bundled policy."""
    return "bp-" + derived_id(f"bundled:{company_id}:{application_id}")


def issue_bundled(
    state: Policy, *, policy_id: str, tables: PricingTables, service: str, application_id: str, activated_on: date
) -> list:
    """Issue first-floor cover when a UTM/EDR service goes live; reinstate it if the service comes back."""
    if service not in tables.bundled.services:
        return []
    b = tables.bundled
    ends_on = add_months(activated_on, b.period_months)
    if state.status == "active":
        return []  # already covering: a redelivered or repeated activation changes nothing
    if state.status == "ended":
        return [PolicyRenewed(policy_id=policy_id, starts_on=activated_on, ends_on=ends_on, reason="service_reactivated")]
    return [
        PolicyIssued(
            policy_id=policy_id,
            tier="bundled",
            product=b.product,
            starts_on=activated_on,
            ends_on=ends_on,
            covers=list(b.covers),
            aggregate_limit_yen=b.aggregate_limit_yen,
            annual_premium_yen=0,
            service=service,
            application_id=application_id,
            table_version=tables.version,
        )
    ]


def end(state: Policy, *, policy_id: str, ended_on: date, reason: str) -> list:
    if state.status != "active":
        return []
    return [PolicyEnded(policy_id=policy_id, ended_on=ended_on, reason=reason)]


def renew_if_due(state: Policy, *, policy_id: str, today: date, tables: PricingTables) -> list:
    """Bundled cover renews for another period while its service is active (the caller checks the service)."""
    if state.status != "active" or state.ends_on is None or state.ends_on > today:
        return []
    if state.issued is None or state.issued.tier != "bundled":
        return []
    return [
        PolicyRenewed(
            policy_id=policy_id,
            starts_on=state.ends_on,
            ends_on=add_months(state.ends_on, tables.bundled.period_months),
        )
    ]


def issue_top_up(state: Policy, *, policy_id: str, quote: QuoteIssued, quote_id: str, starts_on: date) -> list:
    if state.status != "none":
        if state.issued is not None and state.issued.quote_id == quote_id:
            return []
        raise DomainError(f"policy {policy_id} already exists")
    return [
        PolicyIssued(
            policy_id=policy_id,
            tier="top_up",
            product="top_up",
            starts_on=starts_on,
            ends_on=add_months(starts_on, 12),
            covers=list(quote.covers),
            aggregate_limit_yen=quote.aggregate_limit_yen,
            annual_premium_yen=quote.premium_yen,
            quote_id=quote_id,
            table_version=quote.table_version,
        )
    ]
