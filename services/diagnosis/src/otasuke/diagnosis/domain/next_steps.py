"""The three to five next steps a report recommends, and how two diagnoses compare.

Owners asked for concrete follow-up on their weak points rather than a number
(seed report 4.3.7), so each step is one question's ``action``: what to do,
who can do it, how long it takes, and which partner services cover it.

Selection: every question short of full points is a candidate, valued by the
points it would add, discounted by what it costs (a free step worth 40 points
beats a paid one worth 45). The best five are shown **cheapest first**, so the
owner starts with what can be done this week.
"""
from __future__ import annotations

import msgspec

from .questionnaire import Questionnaire
from .scoring import ScoreCard

COST_DISCOUNT = {0: 1.0, 1: 0.85, 2: 0.7, 3: 0.55}
COST_LABEL = {0: "費用なし", 1: "費用なし（手間のみ）", 2: "少額の費用", 3: "サービス・業者の費用"}
MAX_STEPS = 5
MIN_GAIN = 5


class Step(msgspec.Struct, frozen=True, kw_only=True):
    question_id: str
    area_label: str
    title: str
    unknown: bool
    """The answer was わからない: the first thing is to find out."""
    missing: list[str]
    """Texts of the first items not yet done (at most two, to keep the page short)."""
    todo: str
    who: str
    time: str
    cost: str
    gain: int
    """Points this question can still add."""
    services: list[str]
    """Labels of partner services that cover this step."""
    services_active: list[str]
    """Of those, the ones the company already has."""


def next_steps(
    questionnaire: Questionnaire, card: ScoreCard, active_services: list[str] = (), limit: int = MAX_STEPS
) -> list[Step]:
    by_id = {q.id: q for q in questionnaire.questions}
    candidates = []
    for result in card.questions:
        gain = result.max_points - result.points
        if gain < MIN_GAIN:
            continue
        question = by_id[result.question_id]
        value = gain * COST_DISCOUNT[question.action.cost]
        candidates.append((value, question, result, gain))
    # Most valuable first to choose; question order breaks ties so output is stable.
    candidates.sort(key=lambda c: (-c[0], c[1].id))
    chosen = candidates[:limit]
    chosen.sort(key=lambda c: (c[1].action.cost, c[1].action.minutes, c[1].id))
    steps = []
    for _, question, result, gain in chosen:
        action = question.action
        missing = [i.text for i in question.items if i.id in result.missing_items][:2]
        steps.append(
            Step(
                question_id=question.id,
                area_label=questionnaire.area_label(question.area),
                title=question.text,
                unknown=result.status == "unknown",
                missing=missing,
                todo=action.todo,
                who=action.who,
                time=action.time,
                cost=COST_LABEL[action.cost],
                gain=gain,
                services=[questionnaire.services[s] for s in action.services],
                services_active=[questionnaire.services[s] for s in action.services if s in active_services],
            )
        )
    return steps


class AreaChange(msgspec.Struct, frozen=True, kw_only=True):
    area: str
    label: str
    before: int
    after: int

    @property
    def delta(self) -> int:
        return self.after - self.before


class Comparison(msgspec.Struct, frozen=True, kw_only=True):
    previous_score: int
    score: int
    delta: int
    areas: list[AreaChange]
    improved: list[str]
    """Question ids that gained points."""
    declined: list[str]


def compare(previous: ScoreCard, current: ScoreCard) -> Comparison:
    before = {a.area: a for a in previous.areas}
    areas = [
        AreaChange(area=a.area, label=a.label, before=before[a.area].score if a.area in before else 0, after=a.score)
        for a in current.areas
    ]
    prev_points = {q.question_id: q.points for q in previous.questions}
    improved = [q.question_id for q in current.questions if q.points > prev_points.get(q.question_id, 0)]
    declined = [q.question_id for q in current.questions if q.points < prev_points.get(q.question_id, 0)]
    return Comparison(
        previous_score=previous.score,
        score=current.score,
        delta=current.score - previous.score,
        areas=areas,
        improved=improved,
        declined=declined,
    )
