"""`otasuke detect`: Sigma rules over a JSON-lines file of Windows events.

Writes one JSON line per match to stdout, {"rule_id": …, "event": <0-based line>}, and a
summary to stderr. Lines may be flat events or nested evtx-dump records; the file may be
gzip-compressed. A malformed line is reported with its number and skipped.
"""
from __future__ import annotations

import gzip
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Iterator

import typer

from otasuke.telemetry.detection import Engine, RuleSet, events_to_table, flatten_evtx_record

BATCH = 50_000


def _lines(path: Path) -> Iterator[str]:
    with open(path, "rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        yield from fh


def detect(
    rules: Annotated[list[Path], typer.Option("--rules", help="Sigma rule directory or file (repeatable)")],
    events: Annotated[Path, typer.Option("--events", help="JSON lines (.gz allowed): flat events or evtx-dump records")],
) -> None:
    """Evaluate Sigma rules over a JSON-lines event file."""
    started = time.perf_counter()
    ruleset = RuleSet.load(rules)
    engine = Engine(ruleset)
    err = sys.stderr
    out = sys.stdout
    n_events = n_matches = malformed = 0
    detect_seconds = 0.0
    batch: list[dict] = []
    lines: list[int] = []

    def flush() -> None:
        nonlocal n_matches, detect_seconds
        if not batch:
            return
        t = time.perf_counter()
        table = events_to_table(batch)
        found = engine.evaluate(table)
        detect_seconds += time.perf_counter() - t
        out.write("".join(json.dumps({"rule_id": m.rule_id, "event": lines[m.row]}) + "\n" for m in found))
        n_matches += len(found)
        batch.clear()
        lines.clear()

    try:
        source = _lines(events)
        for number, line in enumerate(source):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:
                malformed += 1
                print(f"line {number}: malformed event skipped ({exc})", file=err)
                continue
            batch.append(flatten_evtx_record(record))
            lines.append(number)
            n_events += 1
            if len(batch) >= BATCH:
                flush()
        flush()
    except (OSError, EOFError) as exc:
        flush()
        print(f"error reading {events}: {exc}", file=err)
    out.flush()
    total = time.perf_counter() - started
    print(f"events: {n_events} ({malformed} malformed lines skipped)", file=err)
    print(f"rules loaded: {len(ruleset.rules)} (+{len(ruleset.correlations)} correlation rules)", file=err)
    print(f"rules skipped: {len(ruleset.skipped)}", file=err)
    for where, reason in ruleset.skipped:
        print(f"  {where}: {reason}", file=err)
    print(f"matches: {n_matches}", file=err)
    rate = n_events / detect_seconds if detect_seconds else 0.0
    print(f"events/s: {rate:,.0f} (detection), {total:.1f}s in total including rule loading", file=err)
