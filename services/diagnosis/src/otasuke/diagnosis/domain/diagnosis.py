"""The diagnosis aggregate: one attempt of one company, from start to a fixed score.

Events: ``diagnosis.started`` (then one ``answer_recorded`` per answer the
SECURITY ACTION declaration fills in, marked ``auto_filled``), more
``answer_recorded`` as the company answers or changes its mind, and finally
``diagnosis.completed`` with the score. After completion nothing changes; a
new diagnosis is a new aggregate that points at its predecessor.
"""
from __future__ import annotations

import msgspec

from otasuke.events import Aggregate, DomainError, Envelope
from otasuke.events.schemas.diagnosis import (
    AnswerRecorded,
    AreaScore,
    DiagnosisCompleted,
    DiagnosisStarted,
)

from . import scoring
from .questionnaire import Question, Questionnaire, SecurityAction
from .scoring import Answer

AGGREGATE_TYPE = "diagnosis"


class Diagnosis(msgspec.Struct, frozen=True, kw_only=True):
    started: bool = False
    diagnosis_id: str = ""
    questionnaire_version: str = ""
    industry: str = ""
    security_action: str = "none"
    previous_diagnosis_id: str | None = None
    answers: dict[str, Answer] = {}
    completed: DiagnosisCompleted | None = None


def evolve(state: Diagnosis, env: Envelope) -> Diagnosis:
    data = env.data
    if isinstance(data, DiagnosisStarted):
        return Diagnosis(
            started=True,
            diagnosis_id=data.diagnosis_id,
            questionnaire_version=data.questionnaire_version,
            industry=data.industry,
            security_action=data.security_action,
            previous_diagnosis_id=data.previous_diagnosis_id,
        )
    if isinstance(data, AnswerRecorded):
        answer = Answer(implemented=data.implemented, items=tuple(data.items), auto_filled=data.auto_filled)
        return msgspec.structs.replace(state, answers={**state.answers, data.question_id: answer})
    if isinstance(data, DiagnosisCompleted):
        return msgspec.structs.replace(state, completed=data)
    return state


DIAGNOSIS = Aggregate(initial=Diagnosis, evolve=evolve)


def start(
    state: Diagnosis,
    questionnaire: Questionnaire,
    *,
    diagnosis_id: str,
    industry: str,
    security_action: SecurityAction,
    previous_diagnosis_id: str | None,
) -> list[msgspec.Struct]:
    """Start, filling in what the declaration vouches for (the company may still change it)."""
    if state.started:
        if (state.industry, state.security_action) == (industry, security_action):
            return []  # a retried start
        raise DomainError(f"diagnosis {diagnosis_id} was already started with other details")
    events: list[msgspec.Struct] = [
        DiagnosisStarted(
            diagnosis_id=diagnosis_id,
            questionnaire_version=questionnaire.version,
            industry=industry,
            security_action=security_action,
            previous_diagnosis_id=previous_diagnosis_id,
        )
    ]
    for question_id, items in questionnaire.promised_items(security_action).items():
        events.append(AnswerRecorded(question_id=question_id, implemented=True, items=items, auto_filled=True))
    return events


def check_answer(question: Question | None, question_id: str, implemented: bool | None, items: list[str]) -> list[str]:
    """The ticked items in questionnaire order, or a DomainError saying what is wrong."""
    if question is None:
        raise DomainError(f"unknown question {question_id!r}")
    unknown = [i for i in items if question.item(i) is None]
    if unknown:
        valid = ", ".join(i.id for i in question.items)
        raise DomainError(f"{question_id} has no item(s) {unknown}; its items are {valid}")
    if items and implemented is not True:
        raise DomainError("items can only be ticked when implemented is true (はい)")
    return [i.id for i in question.items if i.id in set(items)]


def record_answer(
    state: Diagnosis, questionnaire: Questionnaire, question_id: str, implemented: bool | None, items: list[str]
) -> list[AnswerRecorded]:
    if not state.started:
        raise DomainError("this diagnosis has not been started")
    if state.completed is not None:
        raise DomainError("this diagnosis is completed; start a new diagnosis to change answers")
    ordered = check_answer(questionnaire.question(question_id), question_id, implemented, items)
    current = state.answers.get(question_id)
    if current is not None and not current.auto_filled and (current.implemented, list(current.items)) == (implemented, ordered):
        return []  # same answer again (a retry): nothing happened
    # Re-sending an auto-filled answer unchanged still records it: the company confirmed it.
    return [AnswerRecorded(question_id=question_id, implemented=implemented, items=ordered)]


def complete(state: Diagnosis, questionnaire: Questionnaire) -> list[DiagnosisCompleted]:
    if not state.started:
        raise DomainError("this diagnosis has not been started")
    if state.completed is not None:
        return []  # completing twice returns the same result
    missing = [q.id for q in questionnaire.questions if q.id not in state.answers]
    if missing:
        raise DomainError(
            f"{len(missing)} question(s) are not answered yet: {', '.join(missing)} "
            "(answer them, using implemented=null for わからない)"
        )
    card = scoring.score(questionnaire, state.answers)
    return [
        DiagnosisCompleted(
            diagnosis_id=state.diagnosis_id,
            questionnaire_version=questionnaire.version,
            industry=state.industry,
            score=card.score,
            max_score=card.max_score,
            band=card.band,
            areas=[AreaScore(area=a.area, score=a.score, max_score=a.max_score) for a in card.areas],
            implemented=card.ids_with("yes"),
            not_implemented=card.ids_with("no"),
            unknown=card.ids_with("unknown"),
            ticked_items=[i for qid in card.ids_with("yes") for i in state.answers[qid].items],
            security_action=state.security_action,
        )
    ]


def next_question(state: Diagnosis, questionnaire: Questionnaire) -> Question | None:
    """The first question not yet answered by the company itself.

    Auto-filled answers come back once so the company confirms them (the
    declaration may promise more than is actually done).
    """
    for question in questionnaire.questions:
        answer = state.answers.get(question.id)
        if answer is None or answer.auto_filled:
            return question
    return None


def confirmed_count(state: Diagnosis) -> int:
    return sum(1 for a in state.answers.values() if not a.auto_filled)
