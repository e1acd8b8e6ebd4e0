"""The pricing tables as typed data (parsed from a versioned TOML file in ``tables/``)."""
from __future__ import annotations

from decimal import Decimal

import msgspec

from otasuke.events.schemas.insurance import CoverLimit


class RevenueBand(msgspec.Struct, frozen=True, kw_only=True):
    label_ja: str
    base_premium_yen: int


class Industry(msgspec.Struct, frozen=True, kw_only=True):
    label_ja: str
    factor: Decimal
    aliases: list[str] = []


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    label_ja: str
    factor: Decimal
    aggregate_limit_yen: int
    covers: list[CoverLimit]


class ScoreBand(msgspec.Struct, frozen=True, kw_only=True):
    min: int
    max: int
    factor: Decimal
    label_ja: str


class DiagnosisAdjustment(msgspec.Struct, frozen=True, kw_only=True):
    missing_factor: Decimal
    missing_label_ja: str
    bands: list[ScoreBand]


class ConditionRule(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    question_ids: list[str]
    text_ja: str
    surcharge_pct: int = 0


class TopUpTables(msgspec.Struct, frozen=True, kw_only=True):
    product: str
    quote_valid_days: int
    rounding_yen: int
    revenue_bands: dict[str, RevenueBand]
    industries: dict[str, Industry]
    plans: dict[str, Plan]
    diagnosis: DiagnosisAdjustment
    conditions: list[ConditionRule] = []


class BundledTables(msgspec.Struct, frozen=True, kw_only=True):
    product: str
    services: list[str]
    period_months: int
    aggregate_limit_yen: int
    covers: list[CoverLimit]


class PricingTables(msgspec.Struct, frozen=True, kw_only=True):
    version: str
    bundled: BundledTables
    top_up: TopUpTables


def parse_tables(raw: dict) -> PricingTables:
    """Validate a parsed TOML document; factors become Decimals so the arithmetic is exact."""
    tables = msgspec.convert(raw, PricingTables, strict=False)
    bands = sorted(tables.top_up.diagnosis.bands, key=lambda b: b.min)
    expected = 0
    for band in bands:
        if band.min != expected or band.max < band.min:
            raise ValueError(f"tables {tables.version}: diagnosis bands must cover 0..1000 without gaps (at {band.min})")
        expected = band.max + 1
    if expected != 1001:
        raise ValueError(f"tables {tables.version}: diagnosis bands must end at 1000")
    return tables
