"""Cross-validated intent accuracy of the help-desk NLU on its own training data.

The held-out sets in this folder have been looked at while tuning; this is the figure to
iterate on. Run in the bot's environment:

    .venv-rasa/bin/python benchmarks/nlu/crossval.py [--mode fast|full] [--folds 5]
        [--set IntentEnsemble.C=3] [--grid IntentEnsemble.diet_weight=0,0.3,0.5]
        [--epochs 50] [--dev benchmarks/nlu/heldout_v2.yml] [--show-errors]

- Stratified group k-fold: near-duplicate lines of an intent (character-bigram Jaccard
  >= 0.5, the measure of overlap.py) share a group and so a fold, so a paraphrase in the
  training folds does not give the answer away.
- The pipeline is the one in config.yml, built component by component in-process.
  `fast` skips DIETClassifier (IntentEnsemble then runs on its logistic regression alone,
  diet_weight 0; 1-4 CPU-minutes); `full` trains DIET in every fold too (~10 CPU-minutes a fold
  at 40 epochs, so use --only-folds).
- `--grid` re-runs only IntentEnsemble (and the threshold) with each value on the same
  features and DIET rankings, so a grid costs little more than one run.
- `--dev FILE` trains once on all the data and tests on FILE instead of folds.

Prints accuracy, clarifying-question rate, confident-wrong rate (wrong intent at or above the
fallback threshold, not ambiguous), out-of-scope answered in scope, per-intent F1 and confusions.
"""
from __future__ import annotations

import argparse
import copy
import itertools
import logging
import os
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "services" / "helpdesk_bot" / "rasa"
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from overlap import bigrams  # noqa: E402

SKIPPED = {"RegexEntityExtractor", "EntitySynonymMapper", "FallbackClassifier"}


def parse_value(text: str):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def pipeline_config(mode: str, overrides: dict, epochs: int | None, path: Path = PROJECT / "config.yml") -> tuple[list, dict]:
    config = yaml.safe_load(path.read_text())
    components, fallback = [], {"threshold": 0.3, "ambiguity_threshold": 0.1}
    for component in config["pipeline"]:
        name = component["name"]
        short = name.rsplit(".", 1)[-1]
        if short == "FallbackClassifier":
            fallback.update({k: v for k, v in component.items() if k != "name"})
            continue
        if short in SKIPPED:
            continue
        if short == "DIETClassifier":
            if mode == "fast":
                continue
            if epochs:
                component = {**component, "epochs": epochs}
        if short == "IntentEnsemble" and mode == "fast":
            component = {**component, "diet_weight": 0.0}
        component = {**component, **overrides.get(short, {})}
        components.append(component)
    fallback.update(overrides.get("FallbackClassifier", {}))
    return components, fallback


def component_class(name: str):
    if "." in name:
        from rasa.shared.utils.common import class_from_module_path

        return class_from_module_path(name)
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe

    return DefaultV1Recipe._from_registry(name).clazz


class Pipeline:
    """The config's components, trained on one split and applied to another."""

    def __init__(self, components: list[dict], storage_dir: str) -> None:
        from rasa.engine.graph import ExecutionContext, GraphSchema
        from rasa.engine.storage.local_model_storage import LocalModelStorage
        from rasa.engine.storage.resource import Resource

        self.storage = LocalModelStorage(Path(storage_dir))
        self.context = ExecutionContext(GraphSchema({}), model_id="crossval")
        self.Resource = Resource
        self.specs = components
        self.counter = itertools.count()

    def make(self, spec: dict):
        import warnings

        warnings.simplefilter("ignore")  # Rasa re-enables library deprecation warnings on import
        cls = component_class(spec["name"])
        config = {**cls.get_default_config(), **{k: v for k, v in spec.items() if k != "name"}}
        resource = self.Resource(f"{spec['name'].rsplit('.', 1)[-1]}_{next(self.counter)}")
        return cls.create(config, self.storage, resource, self.context)

    def fit_transform(self, train, test, stop_before: str | None = None):
        """Train every component up to `stop_before`, featurising both splits as it goes."""
        trained = []
        for spec in self.specs:
            short = spec["name"].rsplit(".", 1)[-1]
            if short == stop_before:
                break
            component = self.make(spec)
            if hasattr(component, "train"):
                component.train(train)
            if hasattr(component, "process_training_data"):
                component.process_training_data(train)
            component.process(test.training_examples)
            trained.append(component)
        return trained


def load_examples(path: Path):
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path), language="ja")
    return data


def groups_of(examples) -> list[int]:
    """Union-find over near-duplicate lines of the same intent."""
    parent = list(range(len(examples)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    grams = [bigrams(e.get("text")) for e in examples]
    by_intent = defaultdict(list)
    for i, e in enumerate(examples):
        by_intent[e.get("intent")].append(i)
    for idx in by_intent.values():
        for a, b in itertools.combinations(idx, 2):
            inter = len(grams[a] & grams[b])
            if inter and inter / len(grams[a] | grams[b]) >= 0.5:
                parent[find(a)] = find(b)
    return [find(i) for i in range(len(examples))]


def fresh(messages):
    from rasa.shared.nlu.training_data.message import Message

    return [Message(data={"text": m.get("text"), "intent": m.get("intent")}) for m in messages]


def training_data(examples, source):
    from rasa.shared.nlu.training_data.training_data import TrainingData

    return TrainingData(
        training_examples=examples,
        regex_features=copy.deepcopy(source.regex_features),
        lookup_tables=copy.deepcopy(source.lookup_tables),
        entity_synonyms=dict(source.entity_synonyms),
    )


def score(results, fallback, title, show_errors=False, quiet=False):
    """results: (expected, text, ranking[(name, conf)…]) → printed metrics; returns a summary dict."""
    threshold = float(fallback.get("threshold", 0.3))
    ambiguity = float(fallback.get("ambiguity_threshold", 0.1))
    n = len(results)
    correct = asked = confident_wrong = oos_answered = n_oos = 0
    tp, fp, fn, support = Counter(), Counter(), Counter(), Counter()
    confusion = Counter()
    errors = []
    for expected, text, ranking in results:
        (top, conf) = ranking[0]
        second = ranking[1][1] if len(ranking) > 1 else 0.0
        fell_back = conf < threshold or conf - second < ambiguity
        support[expected] += 1
        asked += fell_back
        if expected == "out_of_scope":
            n_oos += 1
            if top != "out_of_scope" and not fell_back:
                oos_answered += 1
        if top == expected:
            correct += 1
            tp[expected] += 1
        else:
            fp[top] += 1
            fn[expected] += 1
            confusion[(expected, top)] += 1
            confident_wrong += not fell_back
            errors.append((expected, top, conf, text, fell_back))
    f1 = {}
    for intent in sorted(support):
        p = tp[intent] / (tp[intent] + fp[intent]) if tp[intent] + fp[intent] else 0.0
        r = tp[intent] / (tp[intent] + fn[intent]) if tp[intent] + fn[intent] else 0.0
        f1[intent] = (p, r, 2 * p * r / (p + r) if p + r else 0.0)
    macro = sum(v[2] for v in f1.values()) / len(f1)
    summary = {"accuracy": correct / n, "asked": asked / n, "confident_wrong": confident_wrong / n, "macro_f1": macro}
    print(f"== {title}")
    print(f"  accuracy {correct / n:.1%} ({correct}/{n})  macro F1 {macro:.3f}  "
          f"asked {asked / n:.1%}  confident wrong {confident_wrong / n:.1%} ({confident_wrong})  "
          f"out-of-scope answered in scope {oos_answered}/{n_oos}")
    if quiet:
        return summary
    print("  per intent            precision  recall    F1   support")
    for intent, (p, r, f) in f1.items():
        print(f"    {intent:22s} {p:6.2f}  {r:6.2f}  {f:6.2f}   {support[intent]:4d}")
    print("  top confusions (expected -> predicted: count)")
    for (expected, predicted), count in confusion.most_common(15):
        print(f"    {expected} -> {predicted}: {count}")
    if show_errors:
        print("  errors")
        for expected, predicted, conf, text, fell_back in sorted(errors):
            print(f"    [{expected} -> {predicted} {conf:.2f}{' asked' if fell_back else ''}] {text}")
    return summary


def ranking_of(message):
    ranking = message.get("intent_ranking") or []
    return [(r["name"], float(r["confidence"])) for r in ranking if r["name"] != "nlu_fallback"]


def run_split(pipeline, source, train_msgs, test_msgs, ensemble_specs):
    """Featurise (and train DIET) once; then each IntentEnsemble variant on top."""
    train = training_data(train_msgs, source)
    test = training_data(test_msgs, source)
    pipeline.fit_transform(train, test, stop_before="IntentEnsemble")
    diet_rankings = [m.get("intent_ranking") for m in test.training_examples]
    outputs = []
    for spec in ensemble_specs:
        for m, r in zip(test.training_examples, diet_rankings):
            m.set("intent_ranking", copy.deepcopy(r))
        ensemble = pipeline.make(spec)
        ensemble.train(train)
        ensemble.process(test.training_examples)
        outputs.append([ranking_of(m) for m in test.training_examples])
    return outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["fast", "full"], default="fast")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only-folds", type=int, default=0, help="run just the first N folds (full mode on a budget)")
    parser.add_argument("--epochs", type=int, default=None, help="override DIETClassifier epochs (full mode)")
    parser.add_argument("--set", action="append", default=[], help="Component.key=value override")
    parser.add_argument("--grid", action="append", default=[], help="IntentEnsemble.key=v1,v2,… or FallbackClassifier.threshold=… (repeatable: all combinations)")
    parser.add_argument("--dev", action="append", default=[], help="train on all data, test on this held-out YAML")
    parser.add_argument("--data", default=str(PROJECT / "data" / "nlu"))
    parser.add_argument("--config", default=str(PROJECT / "config.yml"), help="pipeline to test (default: the bot's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()

    logging.disable(logging.WARNING)
    import warnings

    warnings.filterwarnings("ignore")
    from sklearn.model_selection import StratifiedGroupKFold

    overrides: dict = defaultdict(dict)
    for item in args.set:
        key, value = item.split("=", 1)
        component, param = key.split(".", 1)
        overrides[component][param] = parse_value(value)
    components, fallback = pipeline_config(args.mode, overrides, args.epochs, Path(args.config))
    ensemble_spec = next(c for c in components if c["name"].endswith("IntentEnsemble"))
    variants = [("as configured", ensemble_spec, fallback)]
    if args.grid:
        # Every combination of the --grid values.
        axes = []
        for grid in args.grid:
            key, values = grid.split("=", 1)
            axes.append([(key, parse_value(v)) for v in values.split(",")])
        variants = []
        for combo in itertools.product(*axes):
            spec, fb = dict(ensemble_spec), dict(fallback)
            for key, value in combo:
                component, param = key.split(".", 1)
                (spec if component == "IntentEnsemble" else fb)[param] = value
            variants.append((" ".join(f"{k}={v}" for k, v in combo), spec, fb))
    # Ensemble variants that share the same spec are trained once.
    specs = []
    for _, spec, _ in variants:
        if spec not in specs:
            specs.append(spec)

    source = load_examples(Path(args.data))
    examples = [e for e in source.intent_examples if e.get("intent") and e.get("text")]
    started = time.process_time()
    wall = time.time()
    with tempfile.TemporaryDirectory() as storage_dir:
        pipeline = Pipeline(components, storage_dir)
        results = [[] for _ in specs]
        if args.dev:
            for dev in args.dev:
                cases = [(intent, str(t)) for intent, texts in yaml.safe_load(Path(dev).read_text()).items() for t in texts]
                from rasa.shared.nlu.training_data.message import Message

                test = [Message(data={"text": t, "intent": i}) for i, t in cases]
                outs = run_split(pipeline, source, fresh(examples), test, specs)
                for k, out in enumerate(outs):
                    results[k] = [(i, t, r) for (i, t), r in zip(cases, out)]
                report(variants, specs, results, f"{args.mode} pipeline trained on all data, tested on {dev}", args)
            return
        groups = groups_of(examples)
        labels = [e.get("intent") for e in examples]
        print(f"{len(examples)} examples, {len(set(labels))} intents, {len(set(groups))} near-duplicate groups, "
              f"{args.folds} folds, mode {args.mode}")
        folds = StratifiedGroupKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
        for fold, (train_idx, test_idx) in enumerate(folds.split(examples, labels, groups)):
            if args.only_folds and fold >= args.only_folds:
                break
            train_msgs = fresh([examples[i] for i in train_idx])
            test_msgs = fresh([examples[i] for i in test_idx])
            # The classifiers overwrite "intent" on the messages they process.
            expected = [(m.get("intent"), m.get("text")) for m in test_msgs]
            outs = run_split(pipeline, source, train_msgs, test_msgs, specs)
            for k, out in enumerate(outs):
                results[k].extend((i, t, r) for (i, t), r in zip(expected, out))
            print(f"  fold {fold + 1}: {len(test_idx)} test lines, {time.time() - wall:.0f} s so far", flush=True)
            if args.mode == "full":  # slow: show the figures so far
                for label, spec, fb in variants:
                    score(results[specs.index(spec)], fb, f"  after fold {fold + 1} [{label}]", quiet=True)
        report(variants, specs, results, f"{args.mode} pipeline, {args.folds}-fold grouped cross-validation", args)
    print(f"CPU time {time.process_time() - started:.0f} s, wall {time.time() - wall:.0f} s, "
          f"load average {os.getloadavg()[0]:.1f}")


def report(variants, specs, results, title, args):
    quiet = len(variants) > 1
    for label, spec, fallback in variants:
        score(results[specs.index(spec)], fallback, f"{title} [{label}]", args.show_errors and not quiet, quiet)


if __name__ == "__main__":
    main()
