"""Partner-wide figures from the read model: fig. 9's distribution, per-question rates, groups."""
from __future__ import annotations

import asyncpg
import msgspec

from ..domain import standing as st
from ..domain.questionnaire import Questionnaire

LATEST_PER_COMPANY = """
SELECT DISTINCT ON (d.company_id) d.diagnosis_id, d.company_id, d.industry, d.score, d.questionnaire_version,
       c.employees
FROM diagnoses d JOIN companies c ON c.company_id = d.company_id
WHERE d.partner_id = $1 AND d.completed_at IS NOT NULL
ORDER BY d.company_id, d.completed_at DESC
"""


class QuestionRate(msgspec.Struct, frozen=True, kw_only=True):
    question_id: str
    text: str
    area: str
    answered: int
    implemented_rate: float
    """Share answering はい (0–1)."""
    unknown_rate: float
    items: dict[str, float]
    """Item id → share of companies that ticked it."""


class PartnerStatistics(msgspec.Struct, frozen=True, kw_only=True):
    partner_id: str
    questionnaire_version: str
    companies_registered: int
    companies_diagnosed: int
    average: int
    median: int
    at_or_below_300_percent: int
    """The seed report's headline figure: share scoring 300 or less."""
    distribution: list[st.Bin]
    questions: list[QuestionRate]
    by_size: list[st.Group]
    by_industry: list[st.Group]


async def latest_per_company(conn, partner_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(LATEST_PER_COMPANY, partner_id)


async def partner_statistics(conn, partner_id: str, questionnaire: Questionnaire) -> PartnerStatistics:
    rows = await latest_per_company(conn, partner_id)
    registered = await conn.fetchval("SELECT count(*) FROM companies WHERE partner_id=$1", partner_id)
    scores = [r["score"] for r in rows]
    # Per-question rates are only comparable within one questionnaire version.
    ids = [r["diagnosis_id"] for r in rows if r["questionnaire_version"] == questionnaire.version]
    answers = await conn.fetch(
        "SELECT question_id, implemented, items FROM diagnosis_answers WHERE diagnosis_id = ANY($1::text[])", ids
    )
    rates = []
    for q in questionnaire.questions:
        mine = [a for a in answers if a["question_id"] == q.id]
        n = len(mine) or 1
        rates.append(QuestionRate(
            question_id=q.id, text=q.text, area=q.area, answered=len(mine),
            implemented_rate=round(sum(1 for a in mine if a["implemented"] is True) / n, 3),
            unknown_rate=round(sum(1 for a in mine if a["implemented"] is None) / n, 3),
            items={i.id: round(sum(1 for a in mine if a["implemented"] and i.id in a["items"]) / n, 3) for i in q.items},
        ))
    size_order = [label for _, _, label in st.SIZE_BANDS]
    industry_labels = {i.id: i.label for i in questionnaire.industries}
    return PartnerStatistics(
        partner_id=partner_id,
        questionnaire_version=questionnaire.version,
        companies_registered=registered,
        companies_diagnosed=len(rows),
        average=round(sum(scores) / len(scores)) if scores else 0,
        median=st.median(scores),
        at_or_below_300_percent=round(100 * sum(1 for s in scores if s <= 300) / len(scores)) if scores else 0,
        distribution=st.distribution(scores, questionnaire.max_score),
        questions=rates,
        by_size=st.group(((st.size_band(r["employees"]), r["score"]) for r in rows), order=size_order),
        by_industry=st.group(((r["industry"], r["score"]) for r in rows), labels=industry_labels,
                             order=[i.id for i in questionnaire.industries]),
    )


async def standings(conn, partner_id: str, company_id: str, industry: str, score: int) -> tuple[list[int], st.Standing, st.Standing]:
    """This company's place among its partner's companies and its industry (latest diagnoses)."""
    rows = await latest_per_company(conn, partner_id)
    others = [r for r in rows if r["company_id"] != company_id]
    partner_scores = [r["score"] for r in others] + [score]
    industry_scores = [r["score"] for r in others if r["industry"] == industry] + [score]
    return (
        partner_scores,
        st.standing("partner", score, partner_scores),
        st.standing("industry", score, industry_scores),
    )


async def industry_scores(conn, partner_id: str, company_id: str, industry: str) -> list[int]:
    """Latest scores of the partner's other companies in ``industry``."""
    rows = await latest_per_company(conn, partner_id)
    return [r["score"] for r in rows if r["company_id"] != company_id and r["industry"] == industry]
