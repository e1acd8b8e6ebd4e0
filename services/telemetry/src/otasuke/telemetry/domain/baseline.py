"""An endpoint's learned normal behaviour, and the learning period that builds it.

During the learning period (30 days by default) every process start of the
endpoint adds its parent→child pair and its command *shape* (the command line
with numbers, quoted strings, GUIDs and user paths blanked out) to the
baseline. Detections are recorded but not pushed. Afterwards a detection the
baseline knows well is downgraded one severity level, one it has never seen is
raised one level.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

KNOWN_MIN = 3
PROCESS_EVENT_IDS = {"1", "4688"}

_GUID = re.compile(r"\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?")
_QUOTED = re.compile(r'"[^"]*"')
_USERS = re.compile(r"c:\\users\\[^\\\s]+")
_HEX = re.compile(r"\b0x[0-9a-f]+\b|\b[0-9a-f]{16,}\b")
_NUM = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def basename(path: str | None) -> str:
    if not path:
        return ""
    return path.replace("/", "\\").rsplit("\\", 1)[-1].lower()


def process_pair(row: dict[str, Any]) -> str | None:
    if str(row.get("EventID")) not in PROCESS_EVENT_IDS:
        return None
    child = basename(row.get("Image") or row.get("NewProcessName"))
    if not child:
        return None
    parent = basename(row.get("ParentImage") or row.get("ParentProcessName")) or "?"
    return f"{parent}>{child}"


def command_shape(command_line: str | None) -> str | None:
    if not command_line:
        return None
    s = command_line.lower()
    s = _GUID.sub("<guid>", s)
    s = _QUOTED.sub("<str>", s)
    s = _USERS.sub(r"c:\\users\\<user>", s)
    s = _HEX.sub("<hex>", s)
    s = _NUM.sub("<n>", s)
    return _SPACE.sub(" ", s).strip()[:160]


def observe(rows: list[dict[str, Any]]) -> tuple[Counter, Counter]:
    pairs: Counter = Counter()
    shapes: Counter = Counter()
    for row in rows:
        pair = process_pair(row)
        if pair is None:
            continue
        pairs[pair] += 1
        shape = command_shape(row.get("CommandLine"))
        if shape:
            shapes[shape] += 1
    return pairs, shapes


@dataclass
class Baseline:
    pairs: Counter = field(default_factory=Counter)
    shapes: Counter = field(default_factory=Counter)

    def add(self, pairs: dict[str, int], shapes: dict[str, int]) -> None:
        self.pairs.update(pairs)
        self.shapes.update(shapes)

    def assess(self, row: dict[str, Any]) -> str | None:
        """``known`` (downgrade), ``rare`` (raise) or None (no opinion: not a process start, or seen a little)."""
        pair = process_pair(row)
        if pair is None:
            return None
        shape = command_shape(row.get("CommandLine"))
        p, s = self.pairs.get(pair, 0), self.shapes.get(shape, 0) if shape else 0
        if p >= KNOWN_MIN and (shape is None or s >= KNOWN_MIN):
            return "known"
        if p == 0 and s == 0:
            return "rare"
        return None


def in_learning(learning_until: datetime | None, at: datetime) -> bool:
    return learning_until is not None and at < learning_until
