"""The reference evaluation the detection core is checked against.

pySigma's sqlite backend with the sysmon processing pipeline, run over an in-memory
SQLite table whose text columns are COLLATE NOCASE — what Zircolite does. Used by the
agreement test and the benchmark only; the service never calls it.
"""
from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.pipelines.sysmon import sysmon_pipeline
from sigma.rule import SigmaRule

_MISSING = re.compile(r"no such column: (.+)$")


def _regexp(pattern: str, value) -> bool:
    if value is None:
        return False
    try:
        return re.search(pattern, str(value)) is not None
    except re.error:
        return False


@dataclass
class ReferenceRules:
    queries: dict[str, str] = field(default_factory=dict)  # rule id → SQL
    failed: dict[str, str] = field(default_factory=dict)  # rule id/path → reason

    @classmethod
    def convert(cls, paths: Iterable[Path]) -> "ReferenceRules":
        out = cls()
        backend = sqliteBackend(processing_pipeline=sysmon_pipeline())
        files = []
        for p in map(Path, paths):
            files.extend(sorted(p.rglob("*.yml")) if p.is_dir() else [p])
        for f in files:
            try:
                coll = SigmaCollection.from_yaml(f.read_text(encoding="utf-8"))
            except Exception as exc:
                out.failed[str(f)] = str(exc)
                continue
            for rule in coll.rules:
                if not isinstance(rule, SigmaRule):
                    continue
                rid = str(rule.id)
                try:
                    queries = backend.convert_rule(rule)
                except Exception as exc:
                    out.failed[rid] = f"{type(exc).__name__}: {exc}"
                    continue
                if len(queries) == 1:
                    out.queries[rid] = queries[0]
                else:
                    out.queries[rid] = " UNION ".join(queries)
        return out


class ReferenceTable:
    """One batch of flat events (values already strings) in SQLite, case-insensitive text."""

    def __init__(self, events: list[Mapping[str, str | None]]):
        self.db = sqlite3.connect(":memory:")
        self.db.create_function("regexp", 2, _regexp, deterministic=True)
        columns: dict[str, str] = {}
        for e in events:
            for k in e:
                columns.setdefault(k.lower(), k)
        self.columns = set(columns)
        cols = ", ".join(f'"{name}" TEXT COLLATE NOCASE' for name in columns.values())
        self.db.execute(f"CREATE TABLE logs ({cols})" if cols else "CREATE TABLE logs (_empty TEXT)")
        names = list(columns.values())
        marks = ", ".join("?" for _ in names)
        rows = []
        for e in events:
            low = {k.lower(): v for k, v in e.items() if v is not None}
            rows.append(tuple(low.get(n.lower()) for n in names))
        if names:
            self.db.executemany(f"INSERT INTO logs VALUES ({marks})", rows)

    def matches(self, query: str) -> list[int]:
        sql = query.replace("SELECT * FROM logs WHERE", "SELECT rowid FROM logs WHERE", 1)
        for _ in range(64):
            try:
                return [r[0] - 1 for r in self.db.execute(sql)]
            except sqlite3.OperationalError as exc:
                m = _MISSING.search(str(exc))
                if not m:
                    raise
                # A field no event carries is NULL for every row, as in Zircolite's table.
                name = m.group(1).split(".")[-1].strip('`"')
                self.db.execute(f'ALTER TABLE logs ADD COLUMN "{name}" TEXT COLLATE NOCASE')
        raise RuntimeError("too many missing columns")
