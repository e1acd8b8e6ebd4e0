"""SigmaHQ's own regression suite: each listed rule must match its recorded event."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from otasuke.telemetry.detection import Engine, RuleSet, events_to_table, flatten_evtx_record

CORPORA = next(
    (p for p in (Path(__file__).resolve().parents[3].parent / "shared" / "corpora", Path("/work/shared/corpora")) if p.exists()),
    Path("/work/shared/corpora"),
)
SIGMA = CORPORA / "sigma"
CASES = sorted((SIGMA / "regression_data" / "rules" / "windows").rglob("info.yml"))


def _records(path: Path) -> list[dict]:
    text, i, out = path.read_text(encoding="utf-8"), 0, []
    decoder = json.JSONDecoder()
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        obj, i = decoder.raw_decode(text, i)
        out.extend(obj if isinstance(obj, list) else [obj])
    return out


@pytest.fixture(scope="module")
def suite():
    cases = []
    for info in CASES:
        meta = yaml.safe_load(info.read_text(encoding="utf-8"))
        cases.append((meta["rule_metadata"][0]["id"], info.parent))
    wanted = {rid for rid, _ in cases}
    # Load only the rule files the suite names (a plain text search for the id is enough).
    files = [f for f in (SIGMA / "rules" / "windows").rglob("*.yml") if any(rid in f.read_text(encoding="utf-8") for rid in _ids_in(f, wanted))]
    rules = RuleSet.load(files)
    return cases, Engine(rules), rules


def _ids_in(path: Path, wanted: set[str]) -> list[str]:
    head = path.read_text(encoding="utf-8")[:600]
    return [line.split(":", 1)[1].strip() for line in head.splitlines() if line.startswith("id:") and line.split(":", 1)[1].strip() in wanted]


def test_regression_suite_is_present():
    assert len(CASES) >= 150


def test_every_regression_case_matches_its_event(suite):
    cases, engine, rules = suite
    assert not [s for s in rules.skipped], rules.skipped
    failures = []
    for rule_id, folder in cases:
        records = [r for f in sorted(folder.glob("*.json")) for r in _records(f)]
        table = events_to_table([flatten_evtx_record(r) for r in records])
        if not any(m.rule_id == rule_id for m in engine.evaluate(table)):
            failures.append((rule_id, str(folder)))
    assert failures == []
