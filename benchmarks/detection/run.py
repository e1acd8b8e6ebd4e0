"""Detection core benchmark: all SigmaHQ Windows rules over all recorded attack logs,
side by side with the reference evaluation (pySigma sqlite backend + sysmon pipeline over
case-insensitive SQLite columns, as Zircolite does).

    .venv/bin/python benchmarks/detection/run.py [--corpora ../shared/corpora] [--files N]
        [--batch 50000] [--no-reference]

Prints events/s for both, the ratio, and where the two disagree (per rule).
The engine is timed on one core (the process pins itself), on tables already in memory
(parsing JSON is not detection), in batches of --batch events cut from all logs one after
the other — 50,000 is the batch `otasuke detect` evaluates; `--batch 0` evaluates each log
file as one batch. Wall-clock and CPU time are both reported with the load average, since
the machine is shared. The reference is timed on its queries over tables already loaded.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa

from otasuke.telemetry.adapters.sigma_sqlite_reference import ReferenceRules, ReferenceTable
from otasuke.telemetry.detection import Engine, RuleSet, events_to_table
from otasuke.telemetry.detection.events import render_value


def load_events(path: Path) -> list[dict]:
    events = []
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                events.append({k: render_value(v) for k, v in obj.items()})
    return events


def main() -> None:
    here = Path(__file__).resolve()
    default = here.parents[3] / "shared" / "corpora"
    if not default.exists():
        default = Path("/work/shared/corpora")
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpora", type=Path, default=default)
    ap.add_argument("--files", type=int, default=0, help="only the first N mordor files")
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="engine passes (best is reported)")
    ap.add_argument("--batch", type=int, default=50_000, help="events per evaluated batch (0: one batch per log file)")
    args = ap.parse_args()
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    except (AttributeError, OSError):
        pass

    rules_dir = args.corpora / "sigma" / "rules" / "windows"
    t = time.perf_counter()
    rules = RuleSet.load([rules_dir])
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    engine = Engine(rules)
    t_compile = time.perf_counter() - t
    print(f"rules: {len(rules.rules)} loaded, {len(rules.correlations)} correlations, {len(rules.skipped)} skipped "
          f"(parse {t_load:.1f}s, compile {t_compile:.2f}s)")

    files = sorted((args.corpora / "mordor").glob("*.jsonl.gz"))
    if args.files:
        files = files[: args.files]
    logs = []
    for f in files:
        events = load_events(f)
        logs.append((f.name, events, events_to_table(events)))
    total = sum(len(e) for _, e, _ in logs)
    # Batches: (table, [(log name, first row of the log in the table, first row of the table in the log)…])
    if args.batch:
        joined = pa.concat_tables([t for _, _, t in logs], promote_options="default").combine_chunks()
        starts = np.cumsum([0] + [len(e) for _, e, _ in logs])
        batches = [(joined.slice(s, args.batch), s) for s in range(0, total, args.batch)]
    else:
        starts = np.cumsum([0] + [len(e) for _, e, _ in logs])
        batches = [(t, int(starts[i])) for i, (_, _, t) in enumerate(logs)]
    names = [name for name, _, _ in logs]
    print(f"events: {total} in {len(logs)} files, {len(batches)} batches of {args.batch or 'one file'}")

    def where(global_row: int) -> tuple[str, int]:
        i = int(np.searchsorted(starts, global_row, "right")) - 1
        return names[i], global_row - int(starts[i])

    best = best_cpu = None
    ours: set[tuple[str, str, int]] = set()
    for _ in range(max(1, args.repeat)):
        found = []
        t, c = time.perf_counter(), time.process_time()
        for table, offset in batches:
            found.extend((offset + m.row, m.rule_id) for m in engine.evaluate(table))
        elapsed, cpu = time.perf_counter() - t, time.process_time() - c
        best = elapsed if best is None else min(best, elapsed)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    ours = {(*where(row), rid) for row, rid in found}
    ours = {(name, rid, row) for name, row, rid in ours}
    eps = total / best
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"engine:    {eps:>12,.0f} events/s wall, {total / best_cpu:,.0f} events/s CPU  ({best:.2f}s wall, {best_cpu:.2f}s CPU, "
          f"{len(ours)} matches, {len({r for _, r, _ in ours})} rules fired; load average {load})")
    if args.no_reference:
        return

    t = time.perf_counter()
    ref_rules = ReferenceRules.convert([rules_dir])
    print(f"reference: {len(ref_rules.queries)} rules converted, {len(ref_rules.failed)} failed (convert {time.perf_counter() - t:.1f}s)")
    theirs: set[tuple[str, str, int]] = set()
    elapsed = ref_cpu = 0.0
    for name, events, _ in logs:
        ref = ReferenceTable(events)
        t, c = time.perf_counter(), time.process_time()
        for rid, sql in ref_rules.queries.items():
            for row in ref.matches(sql):
                theirs.add((name, rid, row))
        elapsed += time.perf_counter() - t
        ref_cpu += time.process_time() - c
        ref.db.close()
    ref_eps = total / elapsed
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"reference: {ref_eps:>12,.0f} events/s wall, {total / ref_cpu:,.0f} events/s CPU  ({elapsed:.2f}s wall, {ref_cpu:.2f}s CPU, "
          f"{len(theirs)} matches; load average {load})")
    print(f"ratio:     {eps / ref_eps:,.1f}x wall, {(total / best_cpu) / (total / ref_cpu):,.1f}x CPU")
    only_ours = Counter(r for _, r, _ in ours - theirs)
    only_ref = Counter(r for _, r, _ in theirs - ours)
    common = len(ours & theirs)
    print(f"agreement: {common} common, {sum(only_ours.values())} only ours, {sum(only_ref.values())} only reference")
    titles = {r.meta.id: r.meta.title for r in rules.rules}
    for label, counter in (("only ours", only_ours), ("only reference", only_ref)):
        for rid, n in counter.most_common():
            print(f"  {label:15} {n:6}  {rid}  {titles.get(rid, '?')}")


if __name__ == "__main__":
    sys.exit(main())
