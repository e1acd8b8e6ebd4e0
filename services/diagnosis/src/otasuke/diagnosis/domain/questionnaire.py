"""The questionnaire: versioned data (YAML in the package), typed and checked on load.

A questionnaire is data we write ourselves. Loading it checks what the rest of
the service relies on, so a typo in the YAML fails at start-up, not in a report:
points sum to ``max_score``, ids are unique, every IPA 自社診断 question and
every SECURITY ACTION promise is covered, every glossed term exists.
"""
from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import msgspec
import yaml

SecurityAction = Literal["none", "one_star", "two_star"]
CURRENT_VERSION = "2025.1"
IPA_QUESTION_COUNT = 25


class InvalidQuestionnaire(ValueError):
    pass


class Item(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    text: str
    points: int


class Action(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The concrete next step a report recommends when a question is weak."""

    todo: str
    who: str
    time: str
    minutes: int
    """Effort, for ranking; ``time`` is what the owner reads."""
    cost: int
    """0 free and quick, 1 free but effort, 2 small outlay, 3 vendor/service fee."""
    services: list[str] = []
    """Partner services that cover (part of) this step."""


class Question(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    area: str
    ipa: list[int]
    text: str
    why: str
    action: Action
    items: list[Item]
    terms: list[str] = []

    @property
    def max_points(self) -> int:
        return sum(i.points for i in self.items)

    def item(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)


class Band(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    min: int
    label: str
    message: str


class Labelled(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    label: str


class Promise(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One promise of a SECURITY ACTION declaration and the items it answers."""

    number: int
    text: str
    items: list[str]
    by_this_diagnosis: bool = False


class SecurityActionMap(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    one_star: list[Promise]
    two_star: list[Promise]


class Questionnaire(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: str
    title: str
    max_score: int
    bands: list[Band]
    areas: list[Labelled]
    industries: list[Labelled]
    services: dict[str, str]
    glossary: dict[str, str]
    ipa_questions: dict[int, str]
    security_action: SecurityActionMap
    questions: list[Question]

    # -- lookups ---------------------------------------------------------
    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def area_label(self, area_id: str) -> str:
        return next(a.label for a in self.areas if a.id == area_id)

    def industry_id(self, value: str) -> str | None:
        """Accept an industry id or its Japanese label."""
        for ind in self.industries:
            if value in (ind.id, ind.label):
                return ind.id
        return None

    def industry_label(self, industry_id: str) -> str:
        return next((i.label for i in self.industries if i.id == industry_id), industry_id)

    def band_for(self, score: int) -> Band:
        return [b for b in self.bands if score >= b.min][-1]

    def promised_items(self, declaration: SecurityAction) -> dict[str, list[str]]:
        """Question id → item ids a declaration vouches for (★★ includes ★)."""
        promises = {
            "none": [],
            "one_star": self.security_action.one_star,
            "two_star": [*self.security_action.one_star, *self.security_action.two_star],
        }[declaration]
        out: dict[str, list[str]] = {}
        for promise in promises:
            for item_id in promise.items:
                out.setdefault(self.item_question(item_id).id, []).append(item_id)
        return out

    def item_question(self, item_id: str) -> Question:
        return next(q for q in self.questions if q.item(item_id) is not None)

    @property
    def item_count(self) -> int:
        return sum(len(q.items) for q in self.questions)


def validate(q: Questionnaire) -> Questionnaire:
    problems: list[str] = []
    total = sum(x.max_points for x in q.questions)
    if total != q.max_score:
        problems.append(f"points sum to {total}, not max_score {q.max_score}")
    area_ids = {a.id for a in q.areas}
    qids = [x.id for x in q.questions]
    item_ids = [i.id for x in q.questions for i in x.items]
    for ids, what in ((qids, "question"), (item_ids, "item")):
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            problems.append(f"duplicate {what} ids: {sorted(dupes)}")
    for x in q.questions:
        if x.area not in area_ids:
            problems.append(f"{x.id}: unknown area {x.area!r}")
        if not x.items:
            problems.append(f"{x.id}: no items")
        for item in x.items:
            if not item.id.startswith(x.id) or item.points <= 0:
                problems.append(f"{item.id}: item ids start with their question id and earn points")
        for term in x.terms:
            if term not in q.glossary:
                problems.append(f"{x.id}: term {term!r} has no gloss")
        for svc in x.action.services:
            if svc not in q.services:
                problems.append(f"{x.id}: unknown service {svc!r}")
        for no in x.ipa:
            if no not in q.ipa_questions:
                problems.append(f"{x.id}: unknown IPA question {no}")
    covered = {no for x in q.questions for no in x.ipa}
    missing = set(range(1, IPA_QUESTION_COUNT + 1)) - covered
    if missing or len(q.ipa_questions) != IPA_QUESTION_COUNT:
        problems.append(f"IPA 自社診断 questions not covered: {sorted(missing)}")
    for promise in [*q.security_action.one_star, *q.security_action.two_star]:
        if not promise.items and not promise.by_this_diagnosis:
            problems.append(f"SECURITY ACTION promise {promise.text!r} fills in no item")
        for item_id in promise.items:
            if item_id not in item_ids:
                problems.append(f"SECURITY ACTION refers to unknown item {item_id}")
    if [b.min for b in q.bands] != sorted(b.min for b in q.bands) or q.bands[0].min != 0:
        problems.append("bands must start at 0 and be in ascending order")
    if problems:
        raise InvalidQuestionnaire(f"questionnaire {q.version}: " + "; ".join(problems))
    return q


def parse(text: str | bytes) -> Questionnaire:
    try:
        return validate(msgspec.convert(yaml.safe_load(text), Questionnaire, strict=False))
    except msgspec.ValidationError as exc:
        raise InvalidQuestionnaire(str(exc)) from exc


@cache
def load(version: str = CURRENT_VERSION) -> Questionnaire:
    """A packaged questionnaire version (completed diagnoses keep theirs)."""
    path = resources.files("otasuke.diagnosis") / "questionnaires" / f"{version}.yaml"
    if not path.is_file():
        raise LookupError(f"no questionnaire version {version!r}")
    return parse(path.read_text(encoding="utf-8"))


def current() -> Questionnaire:
    return load(CURRENT_VERSION)
