"""The owner's report: score and band, areas, standing, next steps, services; HTML and PDF.

Page one is what an owner reads in two minutes (score, what it means, where
the company stands, the next steps); page two is the detail (every question,
わからない answers, the IPA 自社診断 mapping, the glossary).
"""
from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from otasuke.platform.auth import Principal
from otasuke.platform.companies import active_services, get_company
from otasuke.platform.documents import html_to_pdf, template_env
from otasuke.platform.service import Runtime

from ..adapters import charts
from ..domain import diagnosis as dg
from ..domain import questionnaire as qn
from ..domain import scoring
from ..domain.next_steps import compare, next_steps
from ..domain.standing import distribution, standing
from . import commands, read_model, statistics

JST = ZoneInfo("Asia/Tokyo")
STATUS_LABEL = {"yes": "はい", "no": "いいえ", "unknown": "わからない", "unanswered": "未回答"}
_env = template_env("otasuke.diagnosis")


async def _previous_card(rt: Runtime, state: dg.Diagnosis, company_id: str, diagnosis_id: str):
    prev_id = state.previous_diagnosis_id
    row = await read_model.find(rt.pool, prev_id) if prev_id else await read_model.latest_completed(
        rt.pool, company_id, before_id=diagnosis_id)
    if row is None or row["completed_at"] is None:
        return None, None
    prev_state, _ = await commands.state_of(rt, commands.Located(
        commands.ref_for(row["partner_id"], row["company_id"], row["diagnosis_id"]), row))
    return row, scoring.score(qn.load(prev_state.questionnaire_version), prev_state.answers)


async def comparison_with_previous(rt: Runtime, principal: Principal, located: commands.Located) -> dict | None:
    state, q = await commands.state_of(rt, located)
    row, prev = await _previous_card(rt, state, located.row["company_id"], located.row["diagnosis_id"])
    if prev is None:
        return None
    cmp = compare(prev, scoring.score(q, state.answers))
    return {
        "previous_diagnosis_id": row["diagnosis_id"],
        "previous_completed_at": row["completed_at"].isoformat(),
        "previous_score": cmp.previous_score,
        "score": cmp.score,
        "delta": cmp.delta,
        "areas": [{"area": a.area, "label": a.label, "before": a.before, "after": a.after, "delta": a.delta}
                  for a in cmp.areas],
        "improved": cmp.improved,
        "declined": cmp.declined,
    }


async def context(rt: Runtime, located: commands.Located) -> dict:
    row = located.row
    state, q = await commands.state_of(rt, located)
    card = scoring.score(q, state.answers)
    company = await get_company(rt.pool, row["company_id"])
    services = await active_services(rt.pool, row["company_id"])
    partner_scores, _, _ = await statistics.standings(
        rt.pool, row["partner_id"], row["company_id"], state.industry, card.score)
    industry_scores = await statistics.industry_scores(rt.pool, row["partner_id"], row["company_id"], state.industry)
    _, prev = await _previous_card(rt, state, row["company_id"], row["diagnosis_id"])
    return assemble(q, state, company, services, partner_scores, industry_scores + [card.score], prev,
                    row["completed_at"] or datetime.now(JST))


def assemble(q, state: dg.Diagnosis, company, services: list[str], partner_scores: list[int],
             industry_scores: list[int], prev: scoring.ScoreCard | None, when: datetime) -> dict:
    """Everything the template shows, from plain values (no I/O: benchmarks and previews call it directly)."""
    card = scoring.score(q, state.answers)
    band = next(b for b in q.bands if b.id == card.band)
    in_partner = standing("partner", card.score, partner_scores)
    in_industry = standing("industry", card.score, industry_scores)

    by_id = {r.question_id: r for r in card.questions}
    detail = []
    for area in card.areas:
        rows = []
        for question in (x for x in q.questions if x.area == area.area):
            r = by_id[question.id]
            rows.append({
                "number": q.questions.index(question) + 1, "q": question, "r": r,
                "status": STATUS_LABEL[r.status],
                "todo": [i.text for i in question.items if i.id in r.missing_items] if r.points < r.max_points else [],
                "auto": bool(state.answers.get(question.id) and state.answers[question.id].auto_filled),
            })
        detail.append({"area": area, "rows": rows})
    terms = sorted({t for x in q.questions for t in x.terms})
    steps = next_steps(q, card, services)
    return {
        "q": q,
        "card": card,
        "band": band,
        "state": state,
        "completed": state.completed is not None,
        "company": company,
        "date": when.astimezone(JST).strftime("%Y年%-m月%-d日"),
        "industry_label": q.industry_label(state.industry),
        "steps": steps,
        "steps_gain": sum(s.gain for s in steps),
        "services": [{"id": k, "label": v, "active": k in services,
                      "open": [n for n, x in enumerate(q.questions, 1)
                               if k in x.action.services and by_id[x.id].points < x.max_points]}
                     for k, v in q.services.items() if k != "diagnosis"],
        "in_partner": in_partner,
        "in_industry": in_industry,
        "comparison": compare(prev, card) if prev else None,
        "unknown": [x for x in q.questions if by_id[x.id].status == "unknown"],
        "detail": detail,
        "glossary": [(t, q.glossary[t]) for t in terms],
        "ipa_rows": [{"no": no, "text": text,
                      "ours": [x for x in q.questions if no in x.ipa]} for no, text in q.ipa_questions.items()],
        "by_id": by_id,
        "status_label": STATUS_LABEL,
        "partner_scores": partner_scores,
    }


def _charts(ctx: dict) -> dict:
    card = ctx["card"]
    return {
        "area_chart": charts.area_chart(list(card.areas)),
        "distribution_chart": charts.distribution_chart(
            distribution(ctx["partner_scores"], card.max_score), card.score,
            f"同じお助け隊をご利用の{ctx['in_partner'].companies}社の点数分布"),
    }


def render(ctx: dict) -> str:
    """The report page from an assembled context (draws the charts: CPU work)."""
    return _env.get_template("report.html").render(**ctx, **_charts(ctx))


async def render_html(rt: Runtime, principal: Principal, located: commands.Located) -> str:
    ctx = await context(rt, located)
    # matplotlib is CPU work: keep the event loop free for other requests.
    return await asyncio.to_thread(render, ctx)


async def render_pdf(rt: Runtime, principal: Principal, located: commands.Located) -> bytes:
    html = await render_html(rt, principal, located)
    return await asyncio.to_thread(html_to_pdf, html)
