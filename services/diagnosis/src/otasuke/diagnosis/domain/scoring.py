"""Scoring: a pure function from answers to a 1000-point score card.

Rules (documented in docs/services/diagnosis.md):

* Every item has integer ``points``; they sum to the questionnaire's
  ``max_score`` (1000). A question is worth the sum of its items.
* A question scores the points of its ticked items **only when the gate is
  "はい"** (implemented). "いいえ", "わからない" and unanswered score 0.
* "わからない" scores like "いいえ" but is counted and reported separately:
  not knowing is itself a finding (nobody is watching that area).
* The band is the last band whose ``min`` the score reaches.

Same answers, same score: no clock, no randomness, no I/O.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import msgspec

from .questionnaire import Question, Questionnaire

Status = Literal["yes", "no", "unknown", "unanswered"]


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    implemented: bool | None
    """True = はい, False = いいえ, None = わからない."""
    items: tuple[str, ...] = ()
    auto_filled: bool = False


class QuestionResult(msgspec.Struct, frozen=True, kw_only=True):
    question_id: str
    area: str
    status: Status
    points: int
    max_points: int
    missing_items: tuple[str, ...]
    """Item ids not ticked (all of them unless the gate is はい)."""


class AreaResult(msgspec.Struct, frozen=True, kw_only=True):
    area: str
    label: str
    score: int
    max_score: int
    unknown: int = 0
    """Questions of this area answered わからない."""

    @property
    def percent(self) -> int:
        return round(100 * self.score / self.max_score) if self.max_score else 0


class ScoreCard(msgspec.Struct, frozen=True, kw_only=True):
    questionnaire_version: str
    score: int
    max_score: int
    band: str
    band_label: str
    areas: tuple[AreaResult, ...]
    questions: tuple[QuestionResult, ...]

    def ids_with(self, status: Status) -> list[str]:
        return [q.question_id for q in self.questions if q.status == status]


def status_of(answer: Answer | None) -> Status:
    if answer is None:
        return "unanswered"
    if answer.implemented is None:
        return "unknown"
    return "yes" if answer.implemented else "no"


def score_question(question: Question, answer: Answer | None) -> QuestionResult:
    status = status_of(answer)
    ticked = set(answer.items) if answer is not None and status == "yes" else set()
    points = sum(i.points for i in question.items if i.id in ticked)
    return QuestionResult(
        question_id=question.id,
        area=question.area,
        status=status,
        points=points,
        max_points=question.max_points,
        missing_items=tuple(i.id for i in question.items if i.id not in ticked),
    )


def score(questionnaire: Questionnaire, answers: Mapping[str, Answer]) -> ScoreCard:
    results = tuple(score_question(q, answers.get(q.id)) for q in questionnaire.questions)
    areas = []
    for area in questionnaire.areas:
        mine = [r for r in results if r.area == area.id]
        areas.append(
            AreaResult(
                area=area.id,
                label=area.label,
                score=sum(r.points for r in mine),
                max_score=sum(r.max_points for r in mine),
                unknown=sum(1 for r in mine if r.status == "unknown"),
            )
        )
    total = sum(r.points for r in results)
    band = questionnaire.band_for(total)
    return ScoreCard(
        questionnaire_version=questionnaire.version,
        score=total,
        max_score=questionnaire.max_score,
        band=band.id,
        band_label=band.label,
        areas=tuple(areas),
        questions=results,
    )
