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
from .predicates import Leaf, Node, leaf_literals, leaves, required_literals
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
        self._plans: list[_Plan] = []
        self._always: list[int] = []  # plans with no required literal: always evaluated
        self._by_literal: dict[tuple, list[int]] = defaultdict(list)
        literals_by_field: dict[str, set[str]] = defaultdict(set)
        self._eq_fields: dict[str, set[str]] = defaultdict(set)
        self._python_regex: dict[str, re.Pattern] = {}
        interned: dict[Node, Node] = {}
        keyword_literals: set[str] = set()
        for r in rules.rules:
            predicate = _intern(r.predicate, interned)
            req = required_literals(predicate)
            i = len(self._plans)
            self._plans.append(_Plan(CompiledRule(r.meta, predicate, r.source), req))
            if req is None:
                self._always.append(i)
            else:
                for lit in req:
                    self._by_literal[lit].append(i)
            for leaf in leaves(predicate):
                for mode, field, lit in leaf_literals(leaf) or ():
                    if mode == "kw":
                        keyword_literals.add(lit)
                    else:
                        (literals_by_field[field] if mode == "sub" else self._eq_fields[field]).add(lit)
                if leaf.kind == "regex" and leaf.value not in self._python_regex:
                    try:  # RE2 (pyarrow) when it accepts the pattern, Python's re otherwise
                        pc.match_substring_regex(pa.array(["x"]), leaf.value)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                        self._python_regex[leaf.value] = re.compile(leaf.value)
        self._automata = {field: _automaton(lits) for field, lits in literals_by_field.items()}
        # Keywords (field-less values) may occur in any field: one automaton for all of them.
        self._keywords = _automaton(keyword_literals) if keyword_literals else None
        self._correlator = Correlator(rules.correlations, state)

    # -- detection -------------------------------------------------------------------

    def evaluate(self, table: pa.Table) -> list[Match]:
        """Every (rule, row) match in the table, ordered by row then rule id."""
        view = TableView(table)
        present = set(view.fields)
        hits: dict[tuple, np.ndarray] = {}
        # One Aho-Corasick pass per column present in the batch.
        for field, (automaton, lengths, ordered) in self._automata.items():
            if field in present:
                for lit, rows in view.scan(field, automaton, lengths, ordered).items():
                    hits[("sub", field, lit)] = rows
        if self._keywords is not None:
            automaton, lengths, ordered = self._keywords
            found: dict[str, list[np.ndarray]] = defaultdict(list)
            for field in present:
                for lit, rows in view.scan(field, automaton, lengths, ordered, "keywords").items():
                    found[lit].append(rows)
            for lit, parts in found.items():
                hits[("kw", None, lit)] = _union(parts)
        for field, values in self._eq_fields.items():
            if field in present:
                for value in values:
                    rows = view.eq_rows(field, value)
                    if len(rows):
                        hits[("eq", field, value)] = rows
        # Only rules one of whose required literals occurred are looked at.
        todo = set(self._always)
        for lit in hits.keys() & self._by_literal.keys():
            todo.update(self._by_literal[lit])
        partitions: dict[LogsourceFilter, np.ndarray | None] = {}
        narrowed: dict[Node, np.ndarray | None] = {}
        contexts: dict[Any, _Subset] = {}
        out: list[Match] = []
        for i in sorted(todo):
            rule = self._plans[i].rule
            if rule.source not in partitions:
                partitions[rule.source] = self._partition(view, rule.source)
            part = partitions[rule.source]
            if part is not None and not len(part):
                continue
            rows = _candidates(rule.predicate, hits, narrowed)
            if rows is None:
                rows, key = part, ("part", rule.source)
            else:
                if part is not None and len(rows):
                    rows = np.intersect1d(rows, part, assume_unique=True)
                key = None
            if rows is not None and not len(rows):
                continue
            ctx = contexts.get(key) if key is not None else None
            if ctx is None:
                ctx = _Subset(view, rows, self._python_regex)
                if key is not None:
                    contexts[key] = ctx
            hit = np.flatnonzero(ctx.eval(rule.predicate))
            if rows is not None:
                hit = rows[hit]
            meta = rule.meta
            out.extend(Match(meta.id, int(r), meta) for r in hit)
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

    # -- correlation -----------------------------------------------------------------

    def correlate(self, matches: Iterable[Match], table: pa.Table, time_column: str = "UtcTime") -> list[CorrelationMatch]:
        """Feed this batch's matches into the correlation rules' windows; return what fired."""
        return self._correlator.feed(list(matches), table, time_column)

    def correlation_state(self) -> dict:
        """JSON-serialisable state of the open correlation windows (for `Engine(state=…)`)."""
        return self._correlator.export()


def _automaton(literals) -> tuple[Any, np.ndarray, list[str]]:
    ordered = sorted(literals)
    automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
    for i, lit in enumerate(ordered):
        # Columns are scanned as raw UTF-8 bytes read as Latin-1 (one char per byte), so
        # match positions are byte offsets into the Arrow data buffer.
        automaton.add_word(lit.encode("utf-8").decode("latin-1"), i)
    automaton.make_automaton()
    lengths = np.array([len(lit.encode("utf-8")) for lit in ordered], dtype=np.int64)
    return automaton, lengths, ordered


def _intern(node: Node, seen: dict) -> Node:
    """One object per distinct sub-tree, so the per-batch caches are shared across rules."""
    if not isinstance(node, Leaf) and node[0] in ("and", "or"):
        node = (node[0], tuple(_intern(c, seen) for c in node[1]))
    elif not isinstance(node, Leaf) and node[0] == "not":
        node = ("not", _intern(node[1], seen))
    return seen.setdefault(node, node)


def _candidates(node: Node, hits: Mapping[tuple, np.ndarray], cache: dict) -> np.ndarray | None:
    """Rows where `node` can be true according to the literal hits (None: any row)."""
    if node in cache:
        return cache[node]
    if isinstance(node, Leaf):
        lits = leaf_literals(node)
        res = None if lits is None else _union([hits.get(x, EMPTY) for x in lits])
    elif node[0] == "and":
        res = None
        for child in node[1]:
            c = _candidates(child, hits, cache)
            if c is None:
                continue
            res = c if res is None else np.intersect1d(res, c, assume_unique=True)
            if not len(res):
                break
    elif node[0] == "or":
        parts = []
        res = EMPTY
        for child in node[1]:
            c = _candidates(child, hits, cache)
            if c is None:
                res = None
                break
            parts.append(c)
        else:
            res = _union(parts)
    elif node[0] == "const":
        res = None if node[1] else EMPTY
    else:
        res = None
    cache[node] = res
    return res


# Below this many rows a leaf is cheaper in plain Python than one pyarrow kernel call.
SMALL = 48


class _Subset:
    """Leaf and node evaluation over a subset of a batch's rows (None: all rows).

    Large subsets are evaluated with pyarrow.compute kernels on the lower-cased columns;
    small ones (the common case once the prefilter has run) on the same values in Python,
    where a kernel call's fixed cost would dominate.
    """

    def __init__(self, view: TableView, rows: np.ndarray | None, python_regex: Mapping[str, re.Pattern]):
        self.view = view
        self.rows = rows
        self.n = view.num_rows if rows is None else len(rows)
        self.small = self.n <= SMALL
        self._take = pa.array(rows) if rows is not None else None
        self._cols: dict[tuple[str, bool], Any] = {}
        self._cache: dict[Any, np.ndarray] = {}
        self._python_regex = python_regex

    def col(self, field: str, lowered: bool = True):
        """The subset's values of a field: a pyarrow array, or a list when small (None: absent)."""
        key = (field, lowered)
        if key not in self._cols:
            arr = self.view.lowered(field) if lowered else self.view.original(field)
            if arr is not None and self._take is not None:
                arr = arr.take(self._take)
            if arr is not None and self.small:
                arr = arr.to_pylist()
            self._cols[key] = arr
        return self._cols[key]

    def eval(self, node: Node) -> np.ndarray:
        return self._node(node)

    def _const(self, value: bool) -> np.ndarray:
        return np.full(self.n, value, dtype=bool)

    def _node(self, node: Node) -> np.ndarray:
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
                res = ~self._node(node[1])
            elif tag == "and":
                res = None
                # Cheap, selective leaves first; stop once nothing is left.
                for child in sorted(node[1], key=_cost):
                    part = self._node(child)
                    res = part if res is None else (res & part)
                    if not res.any():
                        break
            else:
                res = None
                for child in sorted(node[1], key=_cost):
                    part = self._node(child)
                    res = part if res is None else (res | part)
                    if res.all():
                        break
        self._cache[node] = res
        return res

    def _leaf(self, leaf: Leaf) -> np.ndarray:
        k, f, v = leaf.kind, leaf.field, leaf.value
        if k == "keyword":
            res = self._const(False)
            for field in self.view.fields:
                arr = self.col(field)
                if arr is not None:
                    res |= self._apply("like", arr, v)
            return res
        if k == "null":
            arr = self.col(f, False)
            if arr is None:
                return self._const(True)
            return np.array([x is None for x in arr], dtype=bool) if self.small else _np(pc.is_null(arr))
        if k == "exists":
            arr = self.col(f, False)
            if arr is None:
                present = self._const(False)
            else:
                present = np.array([x is not None for x in arr], dtype=bool) if self.small else _np(pc.is_valid(arr))
            return present if v else ~present
        lowered = k in ("eq", "contains", "prefix", "suffix", "like", "fieldref")
        arr = self.col(f, lowered)
        if arr is None:
            return self._const(False)
        if k == "fieldref":
            other_field, mode = v
            other = self.col(other_field, True)
            if other is None:
                return self._const(False)
            if mode == "eq" and not self.small:
                return _np(pc.equal(arr, other))
            a_list = arr if self.small else arr.to_pylist()
            b_list = other if self.small else other.to_pylist()
            test = {"eq": str.__eq__, "prefix": str.startswith, "suffix": str.endswith, "contains": lambda a, b: b in a}[mode]
            return np.array([a is not None and b is not None and test(a, b) for a, b in zip(a_list, b_list)], dtype=bool)
        return self._apply(k, arr, v)

    def _apply(self, k: str, arr, v) -> np.ndarray:
        if self.small:
            return np.array(_python_leaf(k, v, self._python_regex)(arr), dtype=bool)
        if k in ("eq", "cased_eq"):
            res = pc.equal(arr, v)
        elif k == "contains":
            res = pc.match_substring(arr, v)
        elif k == "prefix":
            res = pc.starts_with(arr, v)
        elif k == "suffix":
            res = pc.ends_with(arr, v)
        elif k in ("like", "cased_like"):
            res = pc.match_like(arr, v)
        elif k == "regex":
            rx = self._python_regex.get(v)
            if rx is None:
                res = pc.match_substring_regex(arr, v)
            else:
                return np.array([s is not None and rx.search(s) is not None for s in arr.to_pylist()], dtype=bool)
        else:
            return np.array(_python_leaf(k, v, self._python_regex)(arr.to_pylist()), dtype=bool)
        return _np(res)


def _np(arr: pa.Array) -> np.ndarray:
    return arr.fill_null(False).to_numpy(zero_copy_only=False)


_LEAF_FUNCS: dict[tuple, Any] = {}


def _like_regex(pattern: str) -> re.Pattern:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _python_leaf(k: str, v, python_regex):
    """A function list[str|None] → list[bool] for one leaf, built once per leaf."""
    key = (k, v)
    fn = _LEAF_FUNCS.get(key)
    if fn is not None:
        return fn
    if k in ("eq", "cased_eq"):
        fn = lambda xs: [x == v for x in xs]  # noqa: E731
    elif k == "contains":
        fn = lambda xs: [x is not None and v in x for x in xs]  # noqa: E731
    elif k == "prefix":
        fn = lambda xs: [x is not None and x.startswith(v) for x in xs]  # noqa: E731
    elif k == "suffix":
        fn = lambda xs: [x is not None and x.endswith(v) for x in xs]  # noqa: E731
    elif k in ("like", "cased_like"):
        rx = _like_regex(v)
        fn = lambda xs: [x is not None and rx.fullmatch(x) is not None for x in xs]  # noqa: E731
    elif k == "regex":
        rx = python_regex.get(v) or re.compile(v)
        fn = lambda xs: [x is not None and rx.search(x) is not None for x in xs]  # noqa: E731
    elif k == "cidr":
        fn = lambda xs: _cidr_match(xs, v)  # noqa: E731
    elif k == "cmp":
        fn = lambda xs: _compare(xs, *v)  # noqa: E731
    else:  # pragma: no cover - the compiler only emits the kinds above
        raise ValueError(f"unknown leaf kind {k}")
    _LEAF_FUNCS[key] = fn
    return fn


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
