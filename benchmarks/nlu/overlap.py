"""Check that a held-out set does not paraphrase the training data.

    python benchmarks/nlu/overlap.py [heldout.yml]

For each held-out line, the most similar training example by character-bigram
Jaccard similarity; prints exact duplicates and pairs above the threshold
(default 0.6). A held-out set is only honest if this prints (almost) nothing.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "services" / "helpdesk_bot" / "rasa" / "data" / "nlu"


def training_examples() -> list[tuple[str, str]]:
    out = []
    for path in sorted(DATA.glob("*.yml")):
        for block in yaml.safe_load(path.read_text()).get("nlu", []):
            if "intent" not in block:
                continue
            for line in block["examples"].splitlines():
                line = line.strip()
                if line.startswith("- "):
                    # [value](entity) annotations -> value
                    out.append((block["intent"], re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", line[2:]).strip()))
    return out


def bigrams(text: str) -> set[str]:
    t = re.sub(r"[\s、。！？!?,.「」（）()〜~ー]", "", text.lower())
    return {t[i : i + 2] for i in range(len(t) - 1)} or {t}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", nargs="?", default=str(Path(__file__).with_name("heldout_v2.yml")))
    parser.add_argument("--threshold", type=float, default=0.6)
    args = parser.parse_args()
    train = [(intent, text, bigrams(text)) for intent, text in training_examples()]
    heldout = [(i, t) for i, ts in yaml.safe_load(Path(args.data).read_text()).items() for t in ts]
    exact = close = 0
    for intent, text in heldout:
        grams = bigrams(text)
        best = max(train, key=lambda tr: len(grams & tr[2]) / len(grams | tr[2]))
        sim = len(grams & best[2]) / len(grams | best[2])
        if text == best[1]:
            exact += 1
        if sim >= args.threshold:
            close += 1
            print(f"  {sim:.2f}  [{intent}] {text}  ~  [{best[0]}] {best[1]}")
    print(f"{len(heldout)} held-out lines vs {len(train)} training examples: "
          f"{exact} exact duplicates, {close} with similarity >= {args.threshold}")


if __name__ == "__main__":
    main()
