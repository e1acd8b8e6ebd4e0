"""Events of the diagnosis context: the 1000-point security self-diagnosis.

Aggregate ``diagnosis`` (id = diagnosis id), one per attempt of one company.
``diagnosis.completed`` is the contract read by insurance (underwriting, quotes)
and the help desk (「診断結果は？」): add fields only with defaults.
"""
from __future__ import annotations

from typing import Literal

import msgspec

from ..registry import event

SecurityAction = Literal["none", "one_star", "two_star"]


@event("diagnosis.started", producer="diagnosis", consumers=("diagnosis",))
class DiagnosisStarted(msgspec.Struct, frozen=True, kw_only=True):
    """A company started a self-diagnosis (answers from a SECURITY ACTION declaration follow)."""

    diagnosis_id: str
    questionnaire_version: str
    industry: str
    security_action: SecurityAction = "none"
    previous_diagnosis_id: str | None = None


@event("diagnosis.answer_recorded", producer="diagnosis", consumers=("diagnosis",))
class AnswerRecorded(msgspec.Struct, frozen=True, kw_only=True):
    """One question answered (or changed): the yes/no/わからない gate and the ticked items."""

    question_id: str
    implemented: bool | None
    """True, False, or None for わからない (unknown)."""
    items: list[str] = []
    auto_filled: bool = False
    """Filled in from a SECURITY ACTION declaration rather than typed by the user."""


class AreaScore(msgspec.Struct, frozen=True, kw_only=True):
    area: str
    score: int
    max_score: int


@event("diagnosis.completed", producer="diagnosis", consumers=("diagnosis", "insurance", "helpdesk_bot"))
class DiagnosisCompleted(msgspec.Struct, frozen=True, kw_only=True):
    """The diagnosis was completed and scored; answers can no longer change."""

    diagnosis_id: str
    questionnaire_version: str
    industry: str
    score: int
    max_score: int = 1000
    band: str
    areas: list[AreaScore] = []
    implemented: list[str] = []
    """Question ids answered yes."""
    not_implemented: list[str] = []
    unknown: list[str] = []
    """Question ids answered わからない."""
    ticked_items: list[str] = []
    """Item ids ticked under はい answers (underwriting detail, e.g. q17b = offline backup)."""
    security_action: SecurityAction = "none"
    """The SECURITY ACTION declaration the company made when starting."""
