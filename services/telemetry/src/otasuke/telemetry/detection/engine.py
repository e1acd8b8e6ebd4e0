"""The detection engine: compiled Sigma rules evaluated over Arrow tables.

Per batch: every referenced column is lower-cased once; each rule group sharing a log
source computes its rows once (Channel/EventID equality index); each column is scanned
once by an Aho-Corasick automaton holding the literals the rules require; a rule is then
evaluated (vectorised, pyarrow.compute) only on the rows where one of its required
literals occurs. Identical predicates of different rules over the same rows are
evaluated once.
"""
from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import ahocorasick
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .correlation import CorrelationMatch, Correlator
from .logsource import LogsourceFilter
from .predicates import Leaf, Node, leaves, required_literals
from .rules import CompiledRule, RuleMeta, RuleSet
from .table_view import EMPTY, TableView


@dataclass(frozen=True, slots=True)
class Match:
    rule_id: str
    row: int
    rule: RuleMeta


@dataclass(slots=True)
class _Plan:
    rule: CompiledRule
    required: frozenset | None


def _union(arrays: list[np.ndarray]) -> np.ndarray:
    arrays = [a for a in arrays if len(a)]
    if not arrays:
        return EMPTY
    if len(arrays) == 1:
        return arrays[0]
    return np.unique(np.concatenate(arrays))


class Engine:
    def __init__(self, rules: RuleSet, state: Mapping[str, Any] | None = None):
        self.rules = rules
        self._by_id = {r.meta.id: r for r in rules.rules}
        self._groups: dict[LogsourceFilter, list[_Plan]] = defaultdict(list)
        literals_by_field: dict[str, set[str]] = defaultdict(set)
        self._python_regex: dict[str, re.Pattern] = {}
        for r in rules.rules:
            req = required_literals(r.predicate)
            self._groups[r.source].append(_Plan(r, req))
            for mode, field, lit in req or ():
                if mode == "sub":
                    literals_by_field[field].add(lit)
            for leaf in leaves(r.predicate):
                if leaf.kind == "regex" and leaf.value not in self._python_regex:
                    try:  # RE2 (pyarrow) when it accepts the pattern, Python's re otherwise
                        pc.match_substring_regex(pa.array(["x"]), leaf.value)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                        self._python_regex[leaf.value] = re.compile(leaf.value)
        self._automata: dict[str, tuple[Any, np.ndarray, list[str]]] = {}
        for field, lits in literals_by_field.items():
            ordered = sorted(lits)
            automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
            for i, lit in enumerate(ordered):
                automaton.add_word(lit.encode("utf-8").decode("latin-1"), i)
            automaton.make_automaton()
            lengths = np.array([len(lit.encode("utf-8")) for lit in ordered], dtype=np.int64)
            self._automata[field] = (automaton, lengths, ordered)
        self._correlator = Correlator(rules.correlations, state)

    # -- detection -------------------------------------------------------------------

    def evaluate(self, table: pa.Table) -> list[Match]:
        """Every (rule, row) match in the table, ordered by row then rule id."""
        view = TableView(table)
        contexts: dict[Any, _Subset] = {}
        literal_rows: dict[tuple, np.ndarray] = {}
        out: list[Match] = []
        for source, plans in self._groups.items():
            part = self._partition(view, source)
            if part is not None and not len(part):
                continue
            for plan in plans:
                req = plan.required
                if req is None:
                    rows, key = part, ("part", source)
                else:
                    rows = _union([self._literal_rows(view, lit, literal_rows) for lit in req])
                    if part is not None and len(rows):
                        rows = np.intersect1d(rows, part, assume_unique=True)
                    key = ("lit", req, source)
                if rows is not None and not len(rows):
                    continue
                ctx = contexts.get(key)
                if ctx is None:
                    ctx = contexts[key] = _Subset(view, rows, self._python_regex)
                mask = ctx.eval(plan.rule.predicate)
                if mask is None:
                    continue
                hit = np.flatnonzero(mask)
                if rows is not None:
                    hit = rows[hit]
                meta = plan.rule.meta
                out.extend(Match(meta.id, int(i), meta) for i in hit)
        out.sort(key=lambda m: (m.row, m.rule_id))
        return out

    def _partition(self, view: TableView, source: LogsourceFilter) -> np.ndarray | None:
        rows = None
        if source.channels is not None:
            rows = _union([view.eq_rows("channel", c) for c in source.channels])
        if source.event_ids is not None:
            ids = _union([view.eq_rows("eventid", e) for e in source.event_ids])
            rows = ids if rows is None else np.intersect1d(rows, ids, assume_unique=True)
        return rows

    def _literal_rows(self, view: TableView, lit: tuple, cache: dict) -> np.ndarray:
        rows = cache.get(lit)
        if rows is None:
            mode, field, value = lit
            if mode == "eq":
                rows = view.eq_rows(field, value)
            else:
                automaton, lengths, ordered = self._automata[field]
                rows = view.scan(field, automaton, lengths, ordered).get(value, EMPTY)
            cache[lit] = rows
        return rows

    # -- correlation -----------------------------------------------------------------

    def correlate(self, matches: Iterable[Match], table: pa.Table, time_column: str = "UtcTime") -> list[CorrelationMatch]:
        """Feed this batch's matches into the correlation rules' windows; return what fired."""
        return self._correlator.feed(list(matches), table, time_column)

    def correlation_state(self) -> dict:
        """JSON-serialisable state of the open correlation windows (for `Engine(state=…)`)."""
        return self._correlator.export()


class _Subset:
    """Leaf and node evaluation over a subset of a batch's rows (None: all rows)."""

    def __init__(self, view: TableView, rows: np.ndarray | None, python_regex: Mapping[str, re.Pattern]):
        self.view = view
        self.rows = rows
        self.n = view.num_rows if rows is None else len(rows)
        self._take = pa.array(rows) if rows is not None else None
        self._cols: dict[tuple[str, bool], pa.Array | None] = {}
        self._cache: dict[Any, pa.Array] = {}
        self._python_regex = python_regex

    def col(self, field: str, lowered: bool = True) -> pa.Array | None:
        key = (field, lowered)
        if key not in self._cols:
            arr = self.view.lowered(field) if lowered else self.view.original(field)
            if arr is not None and self._take is not None:
                arr = arr.take(self._take)
            self._cols[key] = arr
        return self._cols[key]

    def eval(self, node: Node) -> np.ndarray | None:
        res = self._node(node)
        if res is None:
            return None
        return res.to_numpy(zero_copy_only=False)

    def _const(self, value: bool) -> pa.Array:
        return pa.array(np.full(self.n, value, dtype=bool))

    def _node(self, node: Node) -> pa.Array:
        cached = self._cache.get(node)
        if cached is not None:
            return cached
        if isinstance(node, Leaf):
            res = self._leaf(node)
        else:
            tag = node[0]
            if tag == "const":
                res = self._const(node[1])
            elif tag == "not":
                res = pc.invert(self._node(node[1]))
            elif tag == "and":
                res = None
                # Cheap, selective leaves first; stop once nothing is left.
                for child in sorted(node[1], key=_cost):
                    part = self._node(child)
                    res = part if res is None else pc.and_(res, part)
                    if not pc.any(res).as_py():
                        break
            else:
                res = None
                for child in sorted(node[1], key=_cost):
                    part = self._node(child)
                    res = part if res is None else pc.or_(res, part)
        self._cache[node] = res
        return res

    def _leaf(self, leaf: Leaf) -> pa.Array:
        k, f, v = leaf.kind, leaf.field, leaf.value
        if k == "keyword":
            res = None
            for field in self.view.fields:
                arr = self.col(field)
                if arr is None:
                    continue
                part = pc.match_like(arr, v)
                res = part if res is None else pc.or_kleene(res, part)
            return (res if res is not None else self._const(False)).fill_null(False)
        if k == "null":
            arr = self.col(f, False)
            return self._const(True) if arr is None else pc.is_null(arr)
        if k == "exists":
            arr = self.col(f, False)
            present = self._const(False) if arr is None else pc.is_valid(arr)
            return present if v else pc.invert(present)
        lowered = k in ("eq", "contains", "prefix", "suffix", "like", "fieldref")
        arr = self.col(f, lowered)
        if arr is None:
            return self._const(False)
        if k == "eq" or k == "cased_eq":
            res = pc.equal(arr, v)
        elif k == "contains":
            res = pc.match_substring(arr, v)
        elif k == "prefix":
            res = pc.starts_with(arr, v)
        elif k == "suffix":
            res = pc.ends_with(arr, v)
        elif k == "like" or k == "cased_like":
            res = pc.match_like(arr, v)
        elif k == "regex":
            rx = self._python_regex.get(v)
            if rx is None:
                res = pc.match_substring_regex(arr, v)
            else:
                res = pa.array([s is not None and rx.search(s) is not None for s in arr.to_pylist()])
        elif k == "cidr":
            res = pa.array(_cidr_match(arr.to_pylist(), v))
        elif k == "cmp":
            res = pa.array(_compare(arr.to_pylist(), *v))
        elif k == "fieldref":
            other_field, mode = v
            other = self.col(other_field, True)
            if other is None:
                return self._const(False)
            if mode == "eq":
                res = pc.equal(arr, other)
            else:
                test = {"prefix": str.startswith, "suffix": str.endswith, "contains": lambda a, b: b in a}[mode]
                res = pa.array([a is not None and b is not None and test(a, b) for a, b in zip(arr.to_pylist(), other.to_pylist())])
        else:  # pragma: no cover - the compiler only emits the kinds above
            raise ValueError(f"unknown leaf kind {k}")
        return res.fill_null(False)


_LEAF_COST = {"eq": 0, "null": 0, "exists": 0, "prefix": 1, "suffix": 1, "cased_eq": 1, "contains": 2, "like": 3, "cased_like": 3, "fieldref": 3, "regex": 5, "cidr": 6, "cmp": 6, "keyword": 8}


def _cost(node: Node) -> int:
    if isinstance(node, Leaf):
        return _LEAF_COST.get(node.kind, 5)
    if node[0] == "const":
        return 0
    if node[0] == "not":
        return _cost(node[1]) + 1
    return sum(_cost(c) for c in node[1])


def _cidr_match(values: list, network: str) -> list[bool]:
    net = ipaddress.ip_network(network, strict=False)
    seen: dict[str, bool] = {}
    out = []
    for s in values:
        if s is None:
            out.append(False)
            continue
        hit = seen.get(s)
        if hit is None:
            try:
                addr = ipaddress.ip_address(s.strip().strip("[]").split("%")[0])
                hit = addr.version == net.version and addr in net
            except ValueError:
                hit = False
            seen[s] = hit
        out.append(hit)
    return out


def _compare(values: list, op: str, number: float) -> list[bool]:
    out = []
    for s in values:
        try:
            x = float(s) if s is not None else None
        except ValueError:
            x = None
        if x is None:
            out.append(False)
        elif op == "lt":
            out.append(x < number)
        elif op == "lte":
            out.append(x <= number)
        elif op == "gt":
            out.append(x > number)
        elif op == "gte":
            out.append(x >= number)
        else:
            out.append(x != number)
    return out
