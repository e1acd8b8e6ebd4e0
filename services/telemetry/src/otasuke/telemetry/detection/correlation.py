"""Sigma correlation rules (event_count, value_count, temporal, temporal_ordered).

Matches of the referenced rules are kept in a sliding window per (correlation, group)
— the group being the values of the `group-by` fields, through `aliases` when the
referenced rules name them differently. Each arriving event prunes what is older than the
timespan and re-checks the condition; when it holds the correlation fires once and the
window starts afresh (so one burst is one correlation match, not one per event).
Windows are exported as plain JSON-able dicts so a service can persist them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

import pyarrow as pa

from .rules import CompiledCorrelation, RuleMeta

STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class CorrelationMatch:
    rule_id: str
    rule: RuleMeta
    group: dict[str, str | None]
    first_seen: datetime
    last_seen: datetime
    count: int  # events in the window when it fired
    rows: tuple[int, ...]  # rows of the current table among those events


def parse_time(value: Any) -> float | None:
    """Event time → epoch seconds (ISO 8601 with or without 'T'/'Z', or epoch numbers)."""
    if value is None:
        return None
    s = str(value).strip()
    if not s:
        return None
    try:
        x = float(s)
        return x / 1000.0 if x > 1e11 else x
    except ValueError:
        pass
    s = s.replace("Z", "+00:00")
    if " " in s and "T" not in s:
        s = s.replace(" ", "T", 1)
    # Python 3.11 accepts at most 6 fractional digits: evtx has 7.
    if "." in s:
        head, _, tail = s.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        rest = tail[len(digits):]
        s = f"{head}.{digits[:6]}{rest}"
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)  # Windows event times are UTC
    return dt.timestamp()


def _compare(op: str | None, value: int, count: int | None) -> bool:
    if op is None or count is None:
        return True
    return {
        "gt": value > count,
        "gte": value >= count,
        "lt": value < count,
        "lte": value <= count,
        "eq": value == count,
        "neq": value != count,
    }[op]


class Correlator:
    def __init__(self, correlations: Sequence[CompiledCorrelation], state: Mapping[str, Any] | None = None):
        self.correlations = list(correlations)
        # correlation id → group key (JSON text) → list of [ts, rule_id, value, row|None]
        self.windows: dict[str, dict[str, list[list]]] = {c.meta.id: {} for c in self.correlations}
        if state:
            if state.get("version") != STATE_VERSION:
                raise ValueError(f"unsupported correlation state version {state.get('version')!r}")
            for cid, groups in state.get("windows", {}).items():
                if cid in self.windows:
                    self.windows[cid] = {g: [[e[0], e[1], e[2], None] for e in evs] for g, evs in groups.items()}

    def export(self) -> dict:
        return {
            "version": STATE_VERSION,
            "windows": {
                cid: {g: [[e[0], e[1], e[2]] for e in evs] for g, evs in groups.items() if evs}
                for cid, groups in self.windows.items()
            },
        }

    def feed(self, matches: list, table: pa.Table, time_column: str) -> list[CorrelationMatch]:
        if not self.correlations or not matches:
            return []
        names = {n.lower(): n for n in table.column_names}
        columns: dict[str, list | None] = {}

        def column(field: str | None) -> list | None:
            if field is None:
                return None
            key = field.lower()
            if key not in columns:
                name = names.get(key)
                columns[key] = table.column(name).to_pylist() if name is not None else None
            return columns[key]

        times = column(time_column)
        out: list[CorrelationMatch] = []
        for corr in self.correlations:
            wanted = set(corr.rule_ids)
            arrivals = []
            for m in matches:
                if m.rule_id not in wanted:
                    continue
                ts = parse_time(times[m.row]) if times is not None else None
                if ts is None:
                    continue
                group = {}
                for g in corr.group_by:
                    fld = corr.aliases.get(g, {}).get(m.rule_id, g)
                    col = column(fld)
                    group[g] = None if col is None or col[m.row] is None else str(col[m.row])
                value = None
                if corr.value_field is not None:
                    col = column(corr.aliases.get(corr.value_field, {}).get(m.rule_id, corr.value_field))
                    value = None if col is None else col[m.row]
                arrivals.append((ts, m.rule_id, value, m.row, group))
            arrivals.sort(key=lambda a: a[0])
            windows = self.windows[corr.meta.id]
            for ts, rule_id, value, row, group in arrivals:
                key = json.dumps(group, sort_keys=True, ensure_ascii=False)
                window = windows.setdefault(key, [])
                window.append([ts, rule_id, value, row])
                window.sort(key=lambda e: e[0])
                horizon = window[-1][0] - corr.timespan
                while window and window[0][0] < horizon:
                    window.pop(0)
                if self._holds(corr, window):
                    out.append(
                        CorrelationMatch(
                            rule_id=corr.meta.id,
                            rule=corr.meta,
                            group=group,
                            first_seen=datetime.fromtimestamp(window[0][0], timezone.utc),
                            last_seen=datetime.fromtimestamp(window[-1][0], timezone.utc),
                            count=len(window),
                            rows=tuple(e[3] for e in window if e[3] is not None),
                        )
                    )
                    window.clear()
            for key in [k for k, w in windows.items() if not w]:
                del windows[key]
            # Rows refer to this table only; the persisted window keeps time, rule and value.
            for w in windows.values():
                for e in w:
                    e[3] = None
        return out

    @staticmethod
    def _holds(corr: CompiledCorrelation, window: list[list]) -> bool:
        if corr.kind == "event_count":
            return _compare(corr.op, len(window), corr.count)
        if corr.kind == "value_count":
            distinct = {e[2] for e in window if e[2] is not None}
            return _compare(corr.op, len(distinct), corr.count)
        if corr.kind == "temporal":
            seen = {e[1] for e in window} & set(corr.rule_ids)
            if corr.op is None:
                return len(seen) == len(set(corr.rule_ids))
            return _compare(corr.op, len(seen), corr.count)
        if corr.kind == "temporal_ordered":
            i = 0
            for e in window:
                if i < len(corr.rule_ids) and e[1] == corr.rule_ids[i]:
                    i += 1
            return i == len(corr.rule_ids)
        return False
