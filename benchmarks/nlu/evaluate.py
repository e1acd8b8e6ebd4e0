"""Intent accuracy of the help-desk NLU on a held-out set of phrasings.

Run in the bot's own environment, after `bash services/helpdesk_bot/rasa/setup.sh`:

    .venv-rasa/bin/python benchmarks/nlu/evaluate.py [HELDOUT.yml] [--model PATH] [--show-errors] [--novel-only]

HELDOUT.yml defaults to benchmarks/nlu/heldout_v2.yml (heldout.yml is the older set,
looked at while tuning: use it as a development set).

Prints accuracy (top intent), how often the bot would ask instead of answering
(confidence below the fallback threshold), how often it would answer wrongly
with confidence, per-intent precision/recall/F1, and the confusion pairs.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "services" / "helpdesk_bot" / "rasa"
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(PROJECT))


def fallback_threshold() -> float:
    config = yaml.safe_load((PROJECT / "config.yml").read_text())
    for component in config["pipeline"]:
        if component["name"] == "FallbackClassifier":
            return float(component.get("threshold", 0.3))
    return 0.0


def novel(cases: list[tuple[str, str]], threshold: float = 0.6) -> list[tuple[str, str]]:
    """The cases with no training line at character-bigram Jaccard >= threshold (see overlap.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from overlap import bigrams, training_examples

    train = training_examples()
    seen = {text for _, text in train}
    grams = [bigrams(text) for _, text in train]

    def nearest(text: str) -> float:
        g = bigrams(text)
        return max((len(g & h) / len(g | h) for h in grams), default=0.0)

    return [(i, t) for i, t in cases if t not in seen and nearest(t) < threshold]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(PROJECT / "models" / "helpdesk.tar.gz"))
    parser.add_argument("heldout", nargs="?", default=None, help="held-out YAML: intent -> list of phrasings")
    parser.add_argument("--data", default=str(Path(__file__).with_name("heldout_v2.yml")))
    parser.add_argument("--show-errors", action="store_true")
    parser.add_argument("--novel-only", action="store_true",
                        help="leave out held-out lines that repeat or nearly repeat (overlap >= 0.6) a training line")
    args = parser.parse_args()
    data = args.heldout or args.data

    import logging

    logging.disable(logging.WARNING)
    import structlog

    # Rasa logs every parse at debug level through structlog.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    from rasa.core.agent import Agent

    agent = Agent.load(args.model)
    cases = [(intent, text) for intent, texts in yaml.safe_load(Path(data).read_text()).items() for text in map(str, texts)]
    if args.novel_only:
        before = len(cases)
        cases = novel(cases)
        print(f"--novel-only: {before - len(cases)} of {before} lines repeat or nearly repeat a training line, left out")
    threshold = fallback_threshold()
    correct = asked = confident_wrong = 0
    confusion: Counter = Counter()
    tp: Counter = Counter()
    fp: Counter = Counter()
    fn: Counter = Counter()
    errors = []
    for expected, text in cases:
        result = await agent.parse_message(text)
        ranking = [r for r in result.get("intent_ranking", []) if r["name"] != "nlu_fallback"]
        top = ranking[0] if ranking else result["intent"]
        predicted, confidence = top["name"], float(top["confidence"])
        fell_back = result["intent"]["name"] == "nlu_fallback" or confidence < threshold
        if predicted == expected:
            correct += 1
            tp[expected] += 1
        else:
            fp[predicted] += 1
            fn[expected] += 1
            confusion[(expected, predicted)] += 1
            errors.append((expected, predicted, confidence, text, fell_back))
            if not fell_back:
                confident_wrong += 1
        asked += fell_back

    n = len(cases)
    oos = [e for e in errors if e[0] == "out_of_scope"]
    n_oos = sum(1 for c in cases if c[0] == "out_of_scope")
    print(f"held-out set: {data}")
    print(f"held-out phrasings: {n} in {len({c[0] for c in cases})} intents")
    print(f"intent accuracy (top intent): {correct / n:.1%}  ({correct}/{n})")
    print(f"clarifying question instead of an answer (confidence < {threshold}): {asked / n:.1%}")
    print(f"confident wrong answers: {confident_wrong / n:.1%}  ({confident_wrong}/{n})")
    if n_oos:
        answered = sum(1 for e in oos if not e[4])
        print(f"out-of-scope/nonsense answered as an in-scope intent without asking: {answered}/{n_oos}")
    print("\nper intent            precision  recall    F1   support")
    by_intent = defaultdict(int)
    for expected, _ in cases:
        by_intent[expected] += 1
    f1s = []
    for intent in sorted(by_intent):
        p = tp[intent] / (tp[intent] + fp[intent]) if tp[intent] + fp[intent] else 0.0
        r = tp[intent] / (tp[intent] + fn[intent]) if tp[intent] + fn[intent] else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        f1s.append(f1)
        print(f"  {intent:22s} {p:6.2f}  {r:6.2f}  {f1:6.2f}   {by_intent[intent]:3d}")
    print(f"  macro F1: {sum(f1s) / len(f1s):.3f}")
    print("\nconfusion pairs (expected -> predicted: count)")
    for (expected, predicted), count in confusion.most_common():
        print(f"  {expected} -> {predicted}: {count}")
    if args.show_errors:
        print("\nerrors")
        for expected, predicted, confidence, text, fell_back in errors:
            print(f"  [{expected} -> {predicted} {confidence:.2f}{' asked' if fell_back else ''}] {text}")


if __name__ == "__main__":
    asyncio.run(main())
