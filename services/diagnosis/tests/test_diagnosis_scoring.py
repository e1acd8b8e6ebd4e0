"""The questionnaire's shape and the pure scoring function."""
import random

import pytest

from otasuke.diagnosis.domain import questionnaire as qn
from otasuke.diagnosis.domain.next_steps import compare, next_steps
from otasuke.diagnosis.domain.scoring import Answer, score

Q = qn.current()


def all_answers(implemented, *, ticked=True):
    return {
        q.id: Answer(implemented=implemented, items=tuple(i.id for i in q.items) if implemented and ticked else ())
        for q in Q.questions
    }


def random_answers(rng: random.Random):
    answers = {}
    for q in Q.questions:
        gate = rng.choice([True, False, None])
        items = tuple(i.id for i in q.items if gate and rng.random() < 0.6)
        answers[q.id] = Answer(implemented=gate, items=items)
    return answers


def test_questionnaire_has_24_questions_98_items_and_1000_points():
    assert len(Q.questions) == 24
    assert Q.item_count == 98
    assert Q.max_score == 1000
    assert sum(i.points for q in Q.questions for i in q.items) == 1000
    assert {a.id for a in Q.areas} == {q.area for q in Q.questions}
    assert len(Q.areas) == 10


def test_every_ipa_self_check_question_is_covered():
    covered = {n for q in Q.questions for n in q.ipa}
    assert covered == set(range(1, 26))
    assert len(Q.ipa_questions) == 25


def test_security_action_promises_are_all_covered():
    assert [p.number for p in Q.security_action.one_star] == [1, 2, 3, 4, 5]
    assert all(p.items for p in Q.security_action.one_star)
    # ★★ = ★ plus the published basic policy (and doing this very self-check)
    two = Q.promised_items("two_star")
    one = Q.promised_items("one_star")
    assert set(two) - set(one) == {"q01"}
    assert Q.promised_items("none") == {}


def test_every_question_explains_why_and_glosses_its_jargon():
    for q in Q.questions:
        assert q.why.endswith("。") and len(q.why) < 60, q.id
        for term in q.terms:
            assert Q.glossary[term]
        assert q.action.todo and q.action.who and q.action.time


def test_a_broken_questionnaire_is_refused_with_the_reason():
    import yaml

    from otasuke.diagnosis.domain.questionnaire import InvalidQuestionnaire, parse

    text = (qn.resources.files("otasuke.diagnosis") / "questionnaires" / "2025.1.yaml").read_text()
    data = yaml.safe_load(text)
    data["questions"][0]["items"][0]["points"] += 1
    with pytest.raises(InvalidQuestionnaire, match="1001"):
        parse(yaml.safe_dump(data, allow_unicode=True))
    data["questions"][0]["items"][0]["points"] -= 1
    data["questions"][-2]["ipa"] = []  # the only question covering IPA 24
    with pytest.raises(InvalidQuestionnaire, match=r"\[24\]"):
        parse(yaml.safe_dump(data, allow_unicode=True))


def test_all_yes_with_every_item_is_1000_and_the_top_band():
    card = score(Q, all_answers(True))
    assert card.score == 1000
    assert card.band == "good"
    assert all(a.score == a.max_score for a in card.areas)


def test_all_no_is_0_and_the_bottom_band():
    card = score(Q, all_answers(False))
    assert card.score == 0
    assert card.band == "urgent"
    assert card.ids_with("no") == [q.id for q in Q.questions]


def test_unknown_scores_like_no_but_is_reported_separately():
    unknown = score(Q, all_answers(None))
    no = score(Q, all_answers(False))
    assert unknown.score == no.score == 0
    assert unknown.ids_with("unknown") == [q.id for q in Q.questions]
    assert unknown.ids_with("no") == []
    assert sum(a.unknown for a in unknown.areas) == 24
    assert sum(a.unknown for a in no.areas) == 0


def test_yes_without_ticked_items_scores_nothing_for_that_question():
    answers = all_answers(True)
    answers["q17"] = Answer(implemented=True, items=())
    card = score(Q, answers)
    assert card.score == 1000 - 70


def test_items_only_count_when_the_gate_is_yes():
    q = Q.question("q06")
    ticked = tuple(i.id for i in q.items)
    assert score(Q, {"q06": Answer(implemented=False, items=ticked)}).score == 0
    assert score(Q, {"q06": Answer(implemented=True, items=ticked)}).score == 65


@pytest.mark.parametrize("seed", range(30))
def test_score_properties_over_random_answers(seed):
    rng = random.Random(seed)
    answers = random_answers(rng)
    card = score(Q, answers)
    # Same answers → same score, whatever the order they were given in.
    shuffled = dict(sorted(answers.items(), key=lambda _: rng.random()))
    assert score(Q, shuffled) == card
    assert 0 <= card.score <= 1000
    assert card.score == sum(a.score for a in card.areas)
    assert Q.band_for(card.score).id == card.band
    # Ticking one more item under a yes never lowers the score.
    for q in Q.questions:
        a = answers[q.id]
        if a.implemented and len(a.items) < len(q.items):
            extra = next(i for i in q.items if i.id not in a.items)
            better = {**answers, q.id: Answer(implemented=True, items=(*a.items, extra.id))}
            assert score(Q, better).score == card.score + extra.points
            break


def test_bands_scale_to_1000():
    assert [(b.id, b.min) for b in Q.bands] == [("urgent", 0), ("weak", 300), ("fair", 600), ("good", 800)]
    assert Q.band_for(299).id == "urgent" and Q.band_for(300).id == "weak"


def test_next_steps_are_three_to_five_concrete_and_cheapest_first():
    card = score(Q, all_answers(False))
    steps = next_steps(Q, card, active_services=["utm"])
    assert 3 <= len(steps) <= 5
    costs = [next(q for q in Q.questions if q.id == s.question_id).action.cost for s in steps]
    assert costs == sorted(costs)
    for s in steps:
        assert s.todo and s.who and s.time and s.gain > 0
    # Nothing to recommend when everything is done.
    assert next_steps(Q, score(Q, all_answers(True))) == []


def test_a_company_with_utm_is_told_it_already_has_it():
    answers = all_answers(True)
    answers["q12"] = Answer(implemented=False)
    steps = next_steps(Q, score(Q, answers), active_services=["utm"])
    assert [s.question_id for s in steps] == ["q12"]
    assert any("UTM" in s for s in steps[0].services_active)


def test_comparison_with_the_previous_diagnosis():
    before = score(Q, all_answers(False))
    answers = all_answers(False)
    answers["q05"] = Answer(implemented=True, items=("q05a",))
    after = score(Q, answers)
    cmp = compare(before, after)
    assert cmp.delta == 15 and cmp.improved == ["q05"] and cmp.declined == []
    assert next(a for a in cmp.areas if a.area == "devices").delta == 15
