"""Where scores sit among others: distributions, size bands, a company's rank.

Each company counts once, with its latest completed diagnosis, so a company
that re-takes the diagnosis does not weigh more.
"""
from __future__ import annotations

from collections.abc import Iterable

import msgspec

BIN_WIDTH = 100
SIZE_BANDS = ((1, 5, "1〜5人"), (6, 20, "6〜20人"), (21, 50, "21〜50人"), (51, 100, "51〜100人"),
              (101, 300, "101〜300人"), (301, 10**9, "301人以上"))
MIN_PEERS = 3
"""Below this many other companies a comparison says nothing (and could identify them)."""


class Bin(msgspec.Struct, frozen=True, kw_only=True):
    low: int
    high: int
    label: str
    count: int


class Group(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    label: str
    companies: int
    average: int
    median: int


class Standing(msgspec.Struct, frozen=True, kw_only=True):
    scope: str
    """"partner" or "industry"."""
    companies: int
    rank: int
    """1 = best; ties share the best rank."""
    better_than_percent: int
    average: int
    comparable: bool
    """False when too few companies to compare."""


def distribution(scores: Iterable[int], max_score: int = 1000) -> list[Bin]:
    bins = []
    scores = list(scores)
    for low in range(0, max_score, BIN_WIDTH):
        high = low + BIN_WIDTH - 1 if low + BIN_WIDTH < max_score else max_score
        bins.append(Bin(low=low, high=high, label=f"{low}〜{high}", count=sum(1 for s in scores if low <= s <= high)))
    return bins


def size_band(employees: int) -> str:
    return next(label for low, high, label in SIZE_BANDS if low <= max(employees, 1) <= high)


def median(values: list[int]) -> int:
    v = sorted(values)
    n = len(v)
    return 0 if n == 0 else (v[n // 2] if n % 2 else round((v[n // 2 - 1] + v[n // 2]) / 2))


def group(pairs: Iterable[tuple[str, int]], labels: dict[str, str] | None = None, order: list[str] | None = None) -> list[Group]:
    buckets: dict[str, list[int]] = {}
    for key, score in pairs:
        buckets.setdefault(key, []).append(score)
    keys = [k for k in (order or sorted(buckets)) if k in buckets]
    return [
        Group(key=k, label=(labels or {}).get(k, k), companies=len(buckets[k]),
              average=round(sum(buckets[k]) / len(buckets[k])), median=median(buckets[k]))
        for k in keys
    ]


def standing(scope: str, score: int, others_and_self: list[int]) -> Standing:
    n = len(others_and_self)
    below = sum(1 for s in others_and_self if s < score)
    return Standing(
        scope=scope,
        companies=n,
        rank=1 + sum(1 for s in others_and_self if s > score),
        better_than_percent=round(100 * below / (n - 1)) if n > 1 else 0,
        average=round(sum(others_and_self) / n) if n else 0,
        comparable=n - 1 >= MIN_PEERS,
    )
