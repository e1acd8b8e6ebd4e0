"""Request and response bodies of the diagnosis API (OpenAPI is generated from these)."""
from __future__ import annotations

from typing import Literal

import msgspec

from ...domain import diagnosis as dg
from ...domain import questionnaire as qn
from ...domain.scoring import Answer


class Term(msgspec.Struct, kw_only=True):
    term: str
    gloss: str


class ItemOut(msgspec.Struct, kw_only=True):
    id: str
    text: str
    points: int


class QuestionOut(msgspec.Struct, kw_only=True):
    id: str
    number: int
    area: str
    area_label: str
    text: str
    why: str
    """One line: why this matters."""
    terms: list[Term]
    """Plain-Japanese glosses of the jargon in this question."""
    items: list[ItemOut]
    max_points: int
    ipa: list[int]
    """The IPA 「5分でできる！情報セキュリティ自社診断」 questions this one covers."""


class Labelled(msgspec.Struct, kw_only=True):
    id: str
    label: str


class QuestionnaireOut(msgspec.Struct, kw_only=True):
    version: str
    title: str
    max_score: int
    areas: list[Labelled]
    industries: list[Labelled]
    questions: list[QuestionOut]
    ipa_questions: dict[int, str]
    security_action: dict[str, list[dict]]


class StartIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    company_id: str
    industry: str | None = None
    """Industry id or label (see the questionnaire); defaults to the registered industry."""
    security_action: qn.SecurityAction = "none"


class AnswerIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    implemented: bool | None
    """true = はい, false = いいえ, null = わからない (must be given)."""
    items: list[str] = []
    """Ticked item ids (only with implemented = true)."""


class AnswerOut(msgspec.Struct, kw_only=True):
    implemented: bool | None
    items: list[str]
    auto_filled: bool


class Progress(msgspec.Struct, kw_only=True):
    answered: int
    """Answers the company gave or confirmed (auto-filled ones count once confirmed)."""
    total: int
    position: int
    """1-based number of the question being asked (0 when done)."""
    label: str
    """"3/24" – for a chat."""


class AreaOut(msgspec.Struct, kw_only=True):
    area: str
    label: str
    score: int
    max_score: int
    unknown: int


class ResultOut(msgspec.Struct, kw_only=True):
    id: str
    score: int
    max_score: int
    band: str
    band_label: str
    areas: list[AreaOut]
    implemented: list[str]
    not_implemented: list[str]
    unknown: list[str]
    """Questions answered わからない."""
    report_html: str
    report_pdf: str


class DiagnosisOut(msgspec.Struct, kw_only=True):
    id: str
    company_id: str
    questionnaire_version: str
    industry: str
    security_action: str
    status: Literal["in_progress", "completed"]
    answers: dict[str, AnswerOut]
    progress: Progress
    previous_diagnosis_id: str | None = None
    result: ResultOut | None = None


class Choice(msgspec.Struct, kw_only=True):
    value: bool | None
    label: str


CHOICES = [Choice(value=True, label="はい"), Choice(value=False, label="いいえ"), Choice(value=None, label="わからない")]


class NextOut(msgspec.Struct, kw_only=True):
    diagnosis_id: str
    done: bool
    progress: Progress
    question: QuestionOut | None = None
    choices: list[Choice] = []
    """The gate as buttons: はい / いいえ / わからない."""
    items_prompt: str = "あてはまるものをすべて選んでください（はいの場合）"
    prefilled: bool = False
    """The current answer came from the SECURITY ACTION declaration: ask to confirm it."""
    current: AnswerOut | None = None
    message: str = ""
    """A ready-made chat message for this step."""
    answer_url: str = ""
    complete_url: str = ""


class SummaryOut(msgspec.Struct, kw_only=True):
    id: str
    company_id: str
    status: str
    started_at: str
    completed_at: str | None
    score: int | None
    band: str | None


class LinkOut(msgspec.Struct, kw_only=True):
    url: str
    expires_at: str


def question_out(q: qn.Questionnaire, question: qn.Question) -> QuestionOut:
    return QuestionOut(
        id=question.id,
        number=q.questions.index(question) + 1,
        area=question.area,
        area_label=q.area_label(question.area),
        text=question.text,
        why=question.why,
        terms=[Term(term=t, gloss=q.glossary[t]) for t in question.terms],
        items=[ItemOut(id=i.id, text=i.text, points=i.points) for i in question.items],
        max_points=question.max_points,
        ipa=question.ipa,
    )


def questionnaire_out(q: qn.Questionnaire) -> QuestionnaireOut:
    return QuestionnaireOut(
        version=q.version,
        title=q.title,
        max_score=q.max_score,
        areas=[Labelled(id=a.id, label=a.label) for a in q.areas],
        industries=[Labelled(id=i.id, label=i.label) for i in q.industries],
        questions=[question_out(q, x) for x in q.questions],
        ipa_questions=q.ipa_questions,
        security_action=msgspec.to_builtins(q.security_action),
    )


def answer_out(a: Answer) -> AnswerOut:
    return AnswerOut(implemented=a.implemented, items=list(a.items), auto_filled=a.auto_filled)


def progress(state: dg.Diagnosis, q: qn.Questionnaire) -> Progress:
    nxt = dg.next_question(state, q)
    total = len(q.questions)
    position = q.questions.index(nxt) + 1 if nxt else 0
    answered = dg.confirmed_count(state)
    return Progress(answered=answered, total=total, position=position,
                    label=f"{position}/{total}" if nxt else f"{total}/{total}")
