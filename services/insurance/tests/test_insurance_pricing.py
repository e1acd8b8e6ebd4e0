"""Quote arithmetic from the documented tables (pure functions, no servers)."""
from datetime import date

import pytest

from otasuke.events.schemas.insurance import DiagnosisSnapshot
from otasuke.insurance.domain import quote
from otasuke.insurance.domain.pricing import QuoteInputError, price_top_up, reprice
from otasuke.insurance.tables import current_tables, load_tables


@pytest.fixture(scope="module")
def tables():
    return current_tables()


def diag(score, max_score=1000, no=(), unknown=()):
    return DiagnosisSnapshot(diagnosis_id="d1", score=score, max_score=max_score, not_implemented=list(no), unknown=list(unknown))


def test_no_diagnosis_costs_ten_percent_more_than_a_middling_one(tables):
    # 48,000 (1億円未満) x 1.00 (製造業) x 1.00 (standard) x 1.10 (no diagnosis)
    p = price_top_up(tables, industry="manufacturing", revenue_band="under_100m")
    assert p.premium_yen == 52_800
    assert [s.amount_yen for s in p.steps] == [48_000, 48_000, 48_000, 52_800, 52_800]
    assert p.conditions == []
    mid = price_top_up(tables, industry="manufacturing", revenue_band="under_100m", diagnosis=diag(600))
    assert mid.premium_yen == 48_000


def test_low_score_and_no_backup_raise_the_premium_and_become_a_condition(tables):
    # 72,000 x 1.10 (卸売業・小売業) = 79,200; x 1.20 (under 300) = 95,040; x 1.10 (no backup) = 104,544 → 104,540
    p = price_top_up(tables, industry="小売業", revenue_band="1億〜5億円", diagnosis=diag(250, no=["q17", "q01"]))
    assert (p.industry, p.revenue_band) == ("wholesale_retail", "100m_500m")
    assert p.premium_yen == 104_540
    assert [c.key for c in p.conditions] == ["backup"]
    assert p.conditions[0].question_ids == ["q17"] and "バックアップ" in p.conditions[0].text_ja


def test_high_plan_for_a_good_score(tables):
    # 150,000 x 1.25 (情報通信業) = 187,500; x 1.70 (high) = 318,750; x 0.80 (850+) = 255,000
    p = price_top_up(tables, industry="it", revenue_band="1b_2b", plan="high", diagnosis=diag(900))
    assert p.premium_yen == 255_000
    assert p.aggregate_limit_yen == 100_000_000
    assert {c.key for c in p.covers} == {"third_party_liability", "incident_costs", "business_interruption"}


def test_unknown_answers_count_like_no_and_surcharges_add_up(tables):
    # 108,000 x 1 x 1 x 1.00 (500-699) x 1.15 (backup 10% + incident procedure 5%) = 124,200
    p = price_top_up(tables, industry="manufacturing", revenue_band="500m_1b",
                     diagnosis=diag(600, no=["q23", "q05"], unknown=["q17"]))
    assert p.premium_yen == 124_200
    assert [c.key for c in p.conditions] == ["backup", "incident_procedure", "os_updates"]
    assert [c.surcharge_pct for c in p.conditions] == [10, 5, 0]


@pytest.mark.parametrize(("score", "max_score", "factor"), [
    (0, 1000, 1.20), (299, 1000, 1.20), (300, 1000, 1.10), (699, 1000, 1.00),
    (700, 1000, 0.90), (849, 1000, 0.90), (850, 1000, 0.80), (1000, 1000, 0.80), (45, 50, 0.80),
])
def test_score_bands_edges_and_other_scales(tables, score, max_score, factor):
    p = price_top_up(tables, industry="manufacturing", revenue_band="under_100m", diagnosis=diag(score, max_score))
    assert p.steps[3].factor == factor
    assert p.premium_yen == round(48_000 * factor / 10) * 10


def test_a_better_score_never_costs_more(tables):
    premiums = [price_top_up(tables, industry="services", revenue_band="2b_5b", diagnosis=diag(s)).premium_yen
                for s in range(0, 1001, 50)]
    assert premiums == sorted(premiums, reverse=True)
    assert premiums[0] > premiums[-1]


def test_bad_input_says_what_is_valid(tables):
    with pytest.raises(QuoteInputError, match="unknown revenue_band '3 oku'.*under_100m"):
        price_top_up(tables, industry="manufacturing", revenue_band="3 oku")
    with pytest.raises(QuoteInputError, match="unknown industry 'mining'.*製造業"):
        price_top_up(tables, industry="mining", revenue_band="under_100m")
    with pytest.raises(QuoteInputError, match="unknown plan"):
        price_top_up(tables, industry="manufacturing", revenue_band="under_100m", plan="gold")


def test_a_quote_event_is_enough_to_recompute_its_price(tables):
    [issued] = quote.issue(
        quote.Quote(), quote_id="q-1", tables=tables, industry="建設業", revenue_band="over_5b", plan="standard",
        diagnosis=diag(420, no=["q23"]), today=date(2025, 5, 1),
    )
    assert issued.table_version == "2025.1" and issued.valid_until == date(2025, 5, 31)
    again = reprice(issued, load_tables(issued.table_version))
    # 300,000 x 0.90 = 270,000; x 1.10 (300-499) = 297,000; x 1.05 = 311,850
    assert again.premium_yen == issued.premium_yen == 311_850
    assert again.steps == issued.steps and again.conditions == issued.conditions
