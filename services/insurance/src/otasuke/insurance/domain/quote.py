"""The quote aggregate: issued once with all its price inputs, accepted at most once."""
from __future__ import annotations

from datetime import date, timedelta

import msgspec

from otasuke.events import Aggregate, DomainError, Envelope
from otasuke.events.schemas.insurance import DiagnosisSnapshot, QuoteAccepted, QuoteIssued

from .pricing import price_top_up
from .pricing_tables import PricingTables

AGGREGATE_TYPE = "quote"


class Quote(msgspec.Struct, frozen=True):
    issued: QuoteIssued | None = None
    accepted_policy_id: str | None = None


def evolve(state: Quote, env: Envelope) -> Quote:
    if isinstance(env.data, QuoteIssued):
        return Quote(env.data)
    if isinstance(env.data, QuoteAccepted):
        return msgspec.structs.replace(state, accepted_policy_id=env.data.policy_id)
    return state


QUOTE = Aggregate(initial=Quote, evolve=evolve)


def issue(
    state: Quote,
    *,
    quote_id: str,
    tables: PricingTables,
    industry: str,
    revenue_band: str,
    plan: str,
    diagnosis: DiagnosisSnapshot | None,
    today: date,
) -> list[QuoteIssued]:
    if state.issued is not None:
        return []  # a retried request with the same id: the quote stands as first issued
    price = price_top_up(tables, industry=industry, revenue_band=revenue_band, plan=plan, diagnosis=diagnosis)
    return [
        QuoteIssued(
            quote_id=quote_id,
            table_version=tables.version,
            industry=price.industry,
            revenue_band=price.revenue_band,
            plan=price.plan,
            diagnosis=diagnosis,
            premium_yen=price.premium_yen,
            steps=price.steps,
            conditions=price.conditions,
            covers=price.covers,
            aggregate_limit_yen=price.aggregate_limit_yen,
            valid_until=today + timedelta(days=tables.top_up.quote_valid_days),
        )
    ]


def accept(state: Quote, *, quote_id: str, policy_id: str, today: date) -> list[QuoteAccepted]:
    if state.issued is None:
        raise DomainError(f"quote {quote_id} does not exist")
    if state.accepted_policy_id is not None:
        return []
    if state.issued.valid_until < today:
        raise DomainError(f"quote {quote_id} expired on {state.issued.valid_until}; ask for a new quote")
    return [QuoteAccepted(quote_id=quote_id, policy_id=policy_id)]
