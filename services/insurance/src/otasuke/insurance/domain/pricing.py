"""Top-up (second-floor) quote arithmetic: a pure function of the request, the diagnosis and the tables.

Same inputs and same table version → same premium, always; that is what lets a
quote be recomputed from its event (:func:`reprice`).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from otasuke.events import DomainError
from otasuke.events.schemas.insurance import CoverLimit, DiagnosisSnapshot, PriceStep, QuoteCondition, QuoteIssued

from .pricing_tables import PricingTables


class QuoteInputError(DomainError):
    """The request names a band, industry or plan the tables do not know."""


@dataclass(frozen=True)
class TopUpPrice:
    premium_yen: int
    industry: str
    revenue_band: str
    plan: str
    steps: list[PriceStep]
    conditions: list[QuoteCondition]
    covers: list[CoverLimit]
    aggregate_limit_yen: int


def _yen(value: Decimal, unit: int = 1) -> int:
    return int((value / unit).quantize(Decimal(1), rounding=ROUND_HALF_UP)) * unit


def normalise_industry(tables: PricingTables, industry: str) -> str:
    """Accept the table key or its Japanese label (製造業 → manufacturing)."""
    value = industry.strip()
    industries = tables.top_up.industries
    if value in industries:
        return value
    for key, ind in industries.items():
        if value == ind.label_ja or value in ind.aliases:
            return key
    known = ", ".join(f"{k} ({v.label_ja})" for k, v in industries.items())
    raise QuoteInputError(f"unknown industry {industry!r}; use one of: {known}")


def normalise_revenue_band(tables: PricingTables, band: str) -> str:
    value = band.strip()
    bands = tables.top_up.revenue_bands
    if value in bands:
        return value
    for key, b in bands.items():
        if b.label_ja == value:
            return key
    known = ", ".join(f"{k} ({v.label_ja})" for k, v in bands.items())
    raise QuoteInputError(f"unknown revenue_band {band!r}; use one of: {known}")


def score_out_of_1000(diagnosis: DiagnosisSnapshot) -> int:
    if diagnosis.max_score <= 0:
        return 0
    scaled = Decimal(diagnosis.score) * 1000 / Decimal(diagnosis.max_score)
    return max(0, min(1000, _yen(scaled)))


def conditions_for(tables: PricingTables, diagnosis: DiagnosisSnapshot | None) -> list[QuoteCondition]:
    """Answers of "no" or "わからない" to the listed questions become conditions to fix before renewal."""
    if diagnosis is None:
        return []
    weak = set(diagnosis.not_implemented) | set(diagnosis.unknown)
    out = []
    for rule in tables.top_up.conditions:
        hit = [q for q in rule.question_ids if q in weak]
        if hit:
            out.append(QuoteCondition(key=rule.key, text_ja=rule.text_ja, question_ids=hit, surcharge_pct=rule.surcharge_pct))
    return out


def price_top_up(
    tables: PricingTables,
    *,
    industry: str,
    revenue_band: str,
    plan: str = "standard",
    diagnosis: DiagnosisSnapshot | None = None,
) -> TopUpPrice:
    top = tables.top_up
    industry = normalise_industry(tables, industry)
    revenue_band = normalise_revenue_band(tables, revenue_band)
    if plan not in top.plans:
        raise QuoteInputError(f"unknown plan {plan!r}; use one of: {', '.join(top.plans)}")
    band = top.revenue_bands[revenue_band]
    ind = top.industries[industry]
    pl = top.plans[plan]

    steps: list[PriceStep] = []
    amount = Decimal(band.base_premium_yen)
    steps.append(PriceStep(label_ja=f"基本保険料（売上高 {band.label_ja}）", amount_yen=_yen(amount)))

    def apply(label: str, factor: Decimal) -> None:
        nonlocal amount
        amount = Decimal(_yen(amount * factor))
        steps.append(PriceStep(label_ja=label, factor=float(factor), amount_yen=int(amount)))

    apply(f"業種（{ind.label_ja}）", ind.factor)
    apply(f"プラン（{pl.label_ja}）", pl.factor)
    if diagnosis is None:
        apply(top.diagnosis.missing_label_ja, top.diagnosis.missing_factor)
    else:
        score = score_out_of_1000(diagnosis)
        sb = next(b for b in top.diagnosis.bands if b.min <= score <= b.max)
        apply(sb.label_ja, sb.factor)
    conditions = conditions_for(tables, diagnosis)
    surcharge = sum(c.surcharge_pct for c in conditions)
    if surcharge:
        apply(f"改善が必要な項目（{surcharge}%加算）", Decimal(100 + surcharge) / 100)
    premium = _yen(amount, top.rounding_yen)
    steps.append(PriceStep(label_ja=f"年間保険料（{top.rounding_yen}円単位）", amount_yen=premium))
    return TopUpPrice(
        premium_yen=premium,
        industry=industry,
        revenue_band=revenue_band,
        plan=plan,
        steps=steps,
        conditions=conditions,
        covers=list(pl.covers),
        aggregate_limit_yen=pl.aggregate_limit_yen,
    )


def reprice(quote: QuoteIssued, tables: PricingTables) -> TopUpPrice:
    """Recompute a quote from its own event (with the tables of the version it names)."""
    if tables.version != quote.table_version:
        raise ValueError(f"quote was priced with tables {quote.table_version}, not {tables.version}")
    return price_top_up(
        tables, industry=quote.industry, revenue_band=quote.revenue_band, plan=quote.plan, diagnosis=quote.diagnosis
    )
