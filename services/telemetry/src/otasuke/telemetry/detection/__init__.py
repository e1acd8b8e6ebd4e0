"""Sigma detection core: Sigma rules evaluated, vectorised, over Arrow tables of events.

Public API (pure domain code; the only I/O is reading rule files)::

    from pathlib import Path
    from otasuke.telemetry.detection import RuleSet, Engine, events_to_table, flatten_evtx_record

    rules = RuleSet.load([Path("rules/"), Path("more/rule.yml")])
    rules.rules      # compiled detection rules (each has .meta: RuleMeta)
    rules.correlations
    rules.skipped    # [(path or rule id, reason), …] — what could not be loaded, and why

    engine = Engine(rules)                      # or Engine(rules, state=saved_state)
    table = events_to_table([flatten_evtx_record(r) for r in records])
    matches = engine.evaluate(table)            # [Match(rule_id, row, rule)], by row
    fired = engine.correlate(matches, table, time_column="UtcTime")  # [CorrelationMatch]
    saved_state = engine.correlation_state()    # JSON-able dict of open windows

`Match.rule` / `CorrelationMatch.rule` is a `RuleMeta` (id, title, level, tags, logsource).
`events_to_table` takes flat dicts (values rendered as strings, missing keys → null);
`flatten_evtx_record` turns a nested evtx-dump record (`Event.System`, `Event.EventData`)
into such a dict (EventID, Channel, Computer, … and every EventData field at top level).

Semantics follow the Sigma specification; where it leaves a choice, pySigma's sqlite
backend with the sysmon pipeline over case-insensitive columns (Zircolite). See
docs/services/telemetry-detection.md for the details and the known differences.
"""
from .correlation import CorrelationMatch
from .engine import Engine, Match
from .events import events_to_table, flatten_evtx_record
from .rules import CompiledCorrelation, CompiledRule, RuleMeta, RuleSet

__all__ = [
    "CompiledCorrelation",
    "CompiledRule",
    "CorrelationMatch",
    "Engine",
    "Match",
    "RuleMeta",
    "RuleSet",
    "events_to_table",
    "flatten_evtx_record",
]
