"""The detection engine: compiled Sigma rules evaluated over Arrow tables.

Per batch:
1. Each field the rules name is read once as distinct values + per-row codes (see
   `table_view`), so everything below runs once per distinct value, not once per event.
2. One Hyperscan database per field (case-insensitive literals) scans the field's values
   in a single pass and decides every contains/startswith/endswith comparison of every
   rule on that field exactly; equalities are one `index_in` per field. Keywords
   (field-less values) are one more database, run over every column.
3. Only rules that can still be true are looked at: a rule names (at compile time) a set
   of comparisons one of which must hold for it to match; it is skipped unless one did.
4. A rule is evaluated on its candidate rows only (its most selective required
   comparison, within its log source's rows). Leaves are looked up per distinct value
   (computed once per batch and shared by every rule using the same predicate).
"""
from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Mapping

import hyperscan
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .correlation import CorrelationMatch, Correlator
from .logsource import LogsourceFilter
from .predicates import MIN_LITERAL, Leaf, Node, fold, leaves, regex_literals, _like_literal
from .rules import CompiledRule, RuleMeta, RuleSet
from .table_view import EMPTY, Field, TableView


@dataclass(frozen=True, slots=True)
class Match:
    rule_id: str
    row: int
    rule: RuleMeta


# A *key* is a comparison whose truth on a batch the scan decides exactly:
# ("eq" | "contains" | "prefix" | "suffix", field, folded literal) or ("kw", None, literal)
# (the literal occurs in some field). EXACT leaves are such a comparison themselves.
_SCANNED = ("contains", "prefix", "suffix")


def _is_plain_keyword(pattern: str) -> bool:
    inner = pattern[1:-1]
    return pattern.startswith("%") and pattern.endswith("%") and not any(c in inner for c in "%_\\")


@lru_cache(maxsize=None)
def leaf_key(leaf: Leaf) -> tuple | None:
    """The key a leaf *is* (its truth on a distinct value is decided by the scan), or None."""
    k, f, v = leaf.kind, leaf.field, leaf.value
    if k == "eq":
        return ("eq", f, v)
    if k in _SCANNED and len(v.encode()) >= MIN_LITERAL:
        return (k, f, v)
    if k == "keyword" and _is_plain_keyword(v) and len(v.encode()) - 2 >= MIN_LITERAL:
        return ("kw", None, v[1:-1])
    return None


@lru_cache(maxsize=None)
def leaf_required(leaf: Leaf) -> frozenset | None:
    """Keys of which one must hold where the leaf is true (None: unknown)."""
    key = leaf_key(leaf)
    if key is not None:
        return frozenset({key})
    k, f, v = leaf.kind, leaf.field, leaf.value
    if k in ("like", "cased_like", "keyword"):
        lit = fold(_like_literal(v))
        if len(lit.encode()) >= MIN_LITERAL:
            return frozenset({("kw", None, lit) if k == "keyword" else ("contains", f, lit)})
    elif k == "cased_eq":
        return frozenset({("eq", f, fold(v))})
    elif k == "regex":
        lits = regex_literals(v)
        if lits:
            return frozenset(("contains", f, x) for x in lits)
    return None


# Fields whose values are few and shared by many events: an equality on them narrows little.
LOW_CARDINALITY = frozenset({"eventid", "channel", "provider_name", "sourcename", "logontype", "task", "level"})


def required(node: Node) -> frozenset | None:
    """Keys of which at least one must hold in a row the node is true on (None: unknown)."""
    if isinstance(node, Leaf):
        return leaf_required(node)
    tag = node[0]
    if tag == "const":
        return None if node[1] else frozenset()
    if tag == "or":
        out: set = set()
        for c in node[1]:
            r = required(c)
            if r is None:
                return None
            out |= r
        return frozenset(out)
    if tag == "and":
        best, best_score = None, None
        for c in node[1]:
            r = required(c)
            if r is None:
                continue
            if not r:
                return r
            score = (min(_key_score(x) for x in r), -len(r))
            if best_score is None or score > best_score:
                best, best_score = r, score
        return best
    return None


def _key_score(key: tuple) -> int:
    mode, field, value = key
    if mode == "eq":
        return 1 if field in LOW_CARDINALITY else len(value) + 8
    return len(value)


@dataclass(slots=True)
class _Plan:
    rule: CompiledRule
    required: frozenset | None


def _database(literals: list[str]) -> hyperscan.Database:
    db = hyperscan.Database()
    db.compile(
        expressions=[lit.encode("utf-8") for lit in literals],
        ids=list(range(len(literals))),
        elements=len(literals),
        # ASCII-only case folding, as the columns get (and SQLite NOCASE does).
        flags=[hyperscan.HS_FLAG_CASELESS] * len(literals),
        literal=True,
    )
    return db


class _Scanner:
    """One Hyperscan database of literals, scanned over a field's entries."""

    def __init__(self, literals):
        self.literals = sorted(literals)
        self.lengths = np.array([len(x.encode("utf-8")) for x in self.literals], dtype=np.int64)
        self.db = _database(self.literals)

    def scan(self, data: memoryview | None, offsets: np.ndarray):
        """(literal ids, entries, at start, at end) of every occurrence, sorted by id."""
        if data is None:
            return None
        found: list = []
        self.db.scan(data, match_event_handler=_collect, context=found)
        if not found:
            return None
        h = np.array(found, dtype=np.int64)
        ids, ends = h[:, 0], h[:, 1]
        starts = ends - self.lengths[ids]
        entry = np.searchsorted(offsets, ends - 1, "right") - 1
        keep = entry == np.searchsorted(offsets, starts, "right") - 1  # not across two values
        ids, entry, starts, ends = ids[keep], entry[keep], starts[keep], ends[keep]
        order = np.lexsort((entry, ids))
        ids, entry, starts, ends = ids[order], entry[order], starts[order], ends[order]
        return ids, entry, starts == offsets[entry], ends == offsets[entry + 1]


def _collect(pattern_id, start, end, flags, found):
    found.append((pattern_id, end))


class Engine:
    def __init__(self, rules: RuleSet, state: Mapping[str, Any] | None = None):
        self.rules = rules
        self._plans: list[_Plan] = []
        self._always: list[int] = []  # plans with no required key: evaluated on their log source
        self._by_key: dict[tuple, list[int]] = defaultdict(list)
        scanned: dict[str, set[str]] = defaultdict(set)
        eq_values: dict[str, set[str]] = defaultdict(set)
        keywords: set[str] = set()
        self._python_regex: dict[str, re.Pattern] = {}
        interned: dict[Node, Node] = {}
        for r in rules.rules:
            predicate = _intern(r.predicate, interned)
            req = required(predicate)
            i = len(self._plans)
            self._plans.append(_Plan(CompiledRule(r.meta, predicate, r.source), req))
            if req is None:
                self._always.append(i)
            else:
                for key in req:
                    self._by_key[key].append(i)
            for leaf in leaves(predicate):
                for mode, field, lit in (leaf_required(leaf) or ()):
                    if mode == "kw":
                        keywords.add(lit)
                    elif mode == "eq":
                        eq_values[field].add(lit)
                    else:
                        scanned[field].add(lit)
                if leaf.kind == "regex" and leaf.value not in self._python_regex:
                    try:  # RE2 (pyarrow) when it accepts the pattern, Python's re otherwise
                        pc.match_substring_regex(pa.array(["x"]), leaf.value)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                        self._python_regex[leaf.value] = re.compile(leaf.value)
        self._scanners = {field: _Scanner(lits) for field, lits in scanned.items()}
        self._eq_values = {field: pa.array(sorted(vals), pa.string()) for field, vals in eq_values.items()}
        self._keywords = _Scanner(keywords) if keywords else None
        self._correlator = Correlator(rules.correlations, state)

    # -- detection -------------------------------------------------------------------

    def evaluate(self, table: pa.Table) -> list[Match]:
        """Every (rule, row) match in the table, ordered by row then rule id."""
        batch = _Batch(TableView(table), self)
        todo = set(self._always)
        for key in batch.truth & self._by_key.keys():
            todo.update(self._by_key[key])
        # A rule is looked at only if its condition can hold given which comparisons held
        # somewhere in the batch (rows aside): cheap, and it drops most remaining rules.
        possible: dict[Node, bool] = {}
        todo = [i for i in sorted(todo) if batch.possible(self._plans[i].rule.predicate, possible)]
        partitions: dict[LogsourceFilter, np.ndarray | None] = {}
        candidates: dict[Node, np.ndarray | None] = {}
        contexts: dict[Any, _Subset] = {}
        out: list[Match] = []
        n = batch.view.num_rows
        for i in todo:
            rule = self._plans[i].rule
            if rule.source not in partitions:
                partitions[rule.source] = batch.partition(rule.source)
            part = partitions[rule.source]
            if part is not None and not part.any():
                continue
            rows = batch.candidates(rule.predicate, candidates)
            key = None
            if rows is None:
                key = rule.source
                ctx = contexts.get(key)
                if ctx is None:
                    rows = np.arange(n) if part is None else np.flatnonzero(part)
            elif part is not None:
                rows = rows[part[rows]]
            if key is None or key not in contexts:
                if not len(rows):
                    continue
                ctx = _Subset(batch, rows)
                if key is not None:
                    contexts[key] = ctx
            else:
                ctx = contexts[key]
            hit = ctx.rows[ctx.eval(rule.predicate)]
            meta = rule.meta
            out.extend(Match(meta.id, int(r), meta) for r in hit)
        out.sort(key=lambda m: (m.row, m.rule_id))
        return out

    # -- correlation -----------------------------------------------------------------

    def correlate(self, matches: Iterable[Match], table: pa.Table, time_column: str = "UtcTime") -> list[CorrelationMatch]:
        """Feed this batch's matches into the correlation rules' windows; return what fired."""
        return self._correlator.feed(list(matches), table, time_column)

    def correlation_state(self) -> dict:
        """JSON-serialisable state of the open correlation windows (for `Engine(state=…)`)."""
        return self._correlator.export()


class _Batch:
    """Per-batch results of the scans, and leaf truth per distinct value."""

    def __init__(self, view: TableView, engine: Engine):
        self.view = view
        self.engine = engine
        self.truth: set[tuple] = set()
        self._hits: dict[str, tuple] = {}  # field → scan result
        self._lits: dict[str, dict[str, tuple[int, int]]] = {}  # field → literal → slice of hits
        self._kw_rows: dict[str, np.ndarray] = {}
        self._masks: dict[Leaf, np.ndarray] = {}
        self._rows: dict[Leaf, np.ndarray] = {}
        present = set(view.fields)
        for field, scanner in engine._scanners.items():
            if field not in present:
                continue
            f = view.field(field)
            if f is None:
                continue
            res = scanner.scan(*f.data())
            if res is None:
                continue
            ids, entry, at_start, at_end = res
            self._hits[field] = res
            uniq, first = np.unique(ids, return_index=True)
            bounds = np.append(first, len(ids))
            any_start = np.logical_or.reduceat(at_start, first)
            any_end = np.logical_or.reduceat(at_end, first)
            lits = scanner.literals
            slices = {}
            for j, lid in enumerate(uniq.tolist()):
                lit = lits[lid]
                slices[lit] = (int(bounds[j]), int(bounds[j + 1]))
                self.truth.add(("contains", field, lit))
                if any_start[j]:
                    self.truth.add(("prefix", field, lit))
                if any_end[j]:
                    self.truth.add(("suffix", field, lit))
            self._lits[field] = slices
        for field, values in engine._eq_values.items():
            if field not in present:
                continue
            f = view.field(field)
            if f is None:
                continue
            found = pc.index_in(f.lowered(), value_set=values).drop_null()
            if len(found):
                names = values.to_pylist()
                for j in np.unique(found.to_numpy()).tolist():
                    self.truth.add(("eq", field, names[j]))
        if engine._keywords is not None:
            self._scan_keywords(engine._keywords)

    def _scan_keywords(self, scanner: _Scanner) -> None:
        # Keywords search every field. Fields already encoded are scanned per distinct
        # value; the others as they are (a pass over their data, no encoding).
        parts: dict[int, list[np.ndarray]] = defaultdict(list)
        for name in self.view.fields:
            f = self.view._fields.get(name)
            if f is not None:
                data, offsets = f.data()
            else:
                arr = self.view.original(name)
                if arr is None or arr.null_count == len(arr):
                    continue
                data, offsets = Field.raw_data(arr)
            res = scanner.scan(data, offsets)
            if res is None:
                continue
            ids, entry = res[0], res[1]
            uniq, first = np.unique(ids, return_index=True)
            for lid, e in zip(uniq.tolist(), np.split(entry, first[1:])):
                e = np.unique(e)
                parts[lid].append(f.rows_of(e) if f is not None else e)
        for lid, arrays in parts.items():
            lit = scanner.literals[lid]
            self._kw_rows[lit] = arrays[0] if len(arrays) == 1 else np.unique(np.concatenate(arrays))
            self.truth.add(("kw", None, lit))

    def possible(self, node: Node, cache: dict) -> bool:
        """False when the node is false on every row, judging by the scans alone."""
        res = cache.get(node)
        if res is not None:
            return res
        if isinstance(node, Leaf):
            req = leaf_required(node)
            res = req is None or not req.isdisjoint(self.truth)
        elif node[0] == "and":
            res = all(self.possible(c, cache) for c in node[1])
        elif node[0] == "or":
            res = any(self.possible(c, cache) for c in node[1])
        elif node[0] == "const":
            res = node[1]
        else:
            res = True
        cache[node] = res
        return res

    # -- row sets ----------------------------------------------------------------------

    def partition(self, source: LogsourceFilter) -> np.ndarray | None:
        """Boolean row mask of the rule group's log source (None: every row)."""
        mask = None
        if source.channels is not None:
            mask = self._eq_mask("channel", source.channels)
        if source.event_ids is not None:
            ids = self._eq_mask("eventid", source.event_ids)
            mask = ids if mask is None else (mask & ids)
        return mask

    def _eq_mask(self, field: str, values) -> np.ndarray:
        f = self.view.field(field)
        if f is None:
            return np.zeros(self.view.num_rows, dtype=bool)
        hit = np.zeros(f.n_entries + 1, dtype=bool)
        for v in values:
            hit[f.eq_entries(v)] = True
        return hit[f.codes]

    def key_entries(self, key: tuple) -> np.ndarray:
        """Entries of the key's field where an exact key holds."""
        mode, field, lit = key
        f = self.view.field(field)
        if f is None:
            return EMPTY
        if mode == "eq":
            return f.eq_entries(lit)
        span = self._lits.get(field, {}).get(lit)
        if span is None:
            return EMPTY
        ids, entry, at_start, at_end = self._hits[field]
        lo, hi = span
        e = entry[lo:hi]
        if mode == "prefix":
            e = e[at_start[lo:hi]]
        elif mode == "suffix":
            e = e[at_end[lo:hi]]
        if len(e) > 1:  # sorted: drop repeats (one value holding the literal twice)
            e = e[np.concatenate(([True], e[1:] != e[:-1]))]
        return e

    def leaf_rows(self, leaf: Leaf, key: tuple) -> np.ndarray:
        rows = self._rows.get(leaf)
        if rows is None:
            if key not in self.truth:
                rows = EMPTY
            elif key[0] == "kw":
                rows = self._kw_rows.get(key[2], EMPTY)
            else:
                rows = self.view.field(key[1]).rows_of(self.key_entries(key))
            self._rows[leaf] = rows
        return rows

    def candidates(self, node: Node, cache: dict) -> np.ndarray | None:
        """Sorted rows where `node` can be true according to the scans (None: any row)."""
        if node in cache:
            return cache[node]
        if isinstance(node, Leaf):
            key = leaf_key(node)
            if key is not None:
                res = self.leaf_rows(node, key)
            else:
                req = leaf_required(node)
                if req is None:
                    res = None
                else:
                    res = _union([self._required_rows(k) for k in req])
        elif node[0] == "and":
            # The smallest child's candidates: the predicate itself then decides.
            res = None
            for child in node[1]:
                c = self.candidates(child, cache)
                if c is not None and (res is None or len(c) < len(res)):
                    res = c
                    if not len(res):
                        break
        elif node[0] == "or":
            parts = []
            res = EMPTY
            for child in node[1]:
                c = self.candidates(child, cache)
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

    def _required_rows(self, key: tuple) -> np.ndarray:
        if key not in self.truth:
            return EMPTY
        if key[0] == "kw":
            return self._kw_rows.get(key[2], EMPTY)
        return self.view.field(key[1]).rows_of(self.key_entries(key))

    # -- leaf truth per distinct value ---------------------------------------------------

    def leaf_on(self, leaf: Leaf, rows: np.ndarray) -> np.ndarray:
        """The leaf's truth on the given rows."""
        k, name = leaf.kind, leaf.field
        if k == "keyword":
            key = leaf_key(leaf)
            if key is not None:
                return np.isin(rows, self._kw_rows.get(key[2], EMPTY), assume_unique=True)
            return self._keyword_on(leaf.value, rows)
        if k == "fieldref":
            return self._fieldref_on(leaf, rows)
        f = self.view.field(name)
        if f is None:
            return np.full(len(rows), k == "null" or (k == "exists" and not leaf.value), dtype=bool)
        entries = f.codes[rows]
        mask = self._masks.get(leaf)
        key = leaf_key(leaf)
        if key is not None:
            if mask is None:
                mask = np.zeros(f.n_entries + 1, dtype=bool)
                if key in self.truth:
                    mask[self.key_entries(key)] = True
                self._masks[leaf] = mask
            return mask[entries]
        if k in ("null", "exists"):
            is_null = entries == f.n_entries
            return is_null if (k == "null" or not leaf.value) else ~is_null
        # Anything else is computed on the distinct values it is asked about, once.
        if mask is None:
            mask = np.full(f.n_entries + 1, -1, dtype=np.int8)
            mask[f.n_entries] = 0
            self._masks[leaf] = mask
        need = entries[mask[entries] < 0]
        if len(need):
            need = np.unique(need)
            if len(need) * 2 > f.n_entries and not f.raw:
                need = np.arange(f.n_entries)
            lowered = k not in ("cased_eq", "cased_like", "regex", "cidr", "cmp")
            values = (f.lowered() if lowered else f.values).take(pa.array(need))
            mask[need] = _values_test(k, leaf.value, values, self.engine._python_regex)
        return mask[entries] == 1

    def _keyword_on(self, pattern: str, rows: np.ndarray) -> np.ndarray:
        res = np.zeros(len(rows), dtype=bool)
        take = pa.array(rows)
        for name in self.view.fields:
            arr = self.view.original(name)
            if arr is None:
                continue
            res |= _values_test("like", pattern, pc.ascii_lower(arr.take(take)), {})
        return res

    def _fieldref_on(self, leaf: Leaf, rows: np.ndarray) -> np.ndarray:
        other_field, mode = leaf.value
        a, b = self.view.original(leaf.field), self.view.original(other_field)
        if a is None or b is None:
            return np.zeros(len(rows), dtype=bool)
        take = pa.array(rows)
        a_list = pc.ascii_lower(a.take(take)).to_pylist()
        b_list = pc.ascii_lower(b.take(take)).to_pylist()
        test = {"eq": str.__eq__, "prefix": str.startswith, "suffix": str.endswith, "contains": lambda x, y: y in x}[mode]
        return np.array([x is not None and y is not None and test(x, y) for x, y in zip(a_list, b_list)], dtype=bool)


def _union(arrays: list[np.ndarray]) -> np.ndarray:
    arrays = [a for a in arrays if len(a)]
    if not arrays:
        return EMPTY
    if len(arrays) == 1:
        return arrays[0]
    return np.unique(np.concatenate(arrays))


def _intern(node: Node, seen: dict) -> Node:
    """One object per distinct sub-tree, so the per-batch caches are shared across rules."""
    if not isinstance(node, Leaf) and node[0] in ("and", "or"):
        node = (node[0], tuple(_intern(c, seen) for c in node[1]))
    elif not isinstance(node, Leaf) and node[0] == "not":
        node = ("not", _intern(node[1], seen))
    return seen.setdefault(node, node)


class _Subset:
    """Predicate evaluation over a sorted subset of a batch's rows."""

    def __init__(self, batch: _Batch, rows: np.ndarray):
        self.batch = batch
        self.rows = rows
        self.n = len(rows)
        self._cache: dict[Any, np.ndarray] = {}

    def eval(self, node: Node) -> np.ndarray:
        cached = self._cache.get(node)
        if cached is not None:
            return cached
        if isinstance(node, Leaf):
            res = self.batch.leaf_on(node, self.rows)
        else:
            tag = node[0]
            if tag == "const":
                res = np.full(self.n, node[1], dtype=bool)
            elif tag == "not":
                res = ~self.eval(node[1])
            elif tag == "and":
                res = None
                # Cheap, selective leaves first; stop once nothing is left.
                for child in sorted(node[1], key=_cost):
                    part = self.eval(child)
                    res = part if res is None else (res & part)
                    if not res.any():
                        break
            else:
                res = None
                for child in sorted(node[1], key=_cost):
                    part = self.eval(child)
                    res = part if res is None else (res | part)
                    if res.all():
                        break
        self._cache[node] = res
        return res


# Below this many values a leaf is cheaper in plain Python than one pyarrow kernel call.
SMALL = 48


def _values_test(k: str, v, values: pa.Array, python_regex: Mapping[str, re.Pattern]) -> np.ndarray:
    """The leaf's truth (bool per value) on an array of non-null distinct values."""
    if k in ("cidr", "cmp") or (len(values) <= SMALL and k not in ("regex", "like", "cased_like")):
        # (Python's re on a long script block can take far longer than one RE2 kernel call.)
        return np.array(_python_leaf(k, v, python_regex)(values.to_pylist()), dtype=bool)
    if k in ("eq", "cased_eq"):
        res = pc.equal(values, v)
    elif k == "contains":
        res = pc.match_substring(values, v)
    elif k == "prefix":
        res = pc.starts_with(values, v)
    elif k == "suffix":
        res = pc.ends_with(values, v)
    elif k in ("like", "cased_like"):
        res = pc.match_like(values, v)
    elif k == "regex":
        rx = python_regex.get(v)
        if rx is None:
            res = pc.match_substring_regex(values, v)
        else:
            return np.array([s is not None and rx.search(s) is not None for s in values.to_pylist()], dtype=bool)
    else:
        return np.array(_python_leaf(k, v, python_regex)(values.to_pylist()), dtype=bool)
    return res.fill_null(False).to_numpy(zero_copy_only=False)


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


@lru_cache(maxsize=None)
def _cost(node: Node) -> int:
    if isinstance(node, Leaf):
        return _LEAF_COST.get(node.kind, 5)
    if node[0] == "const":
        return 0
    if node[0] == "not":
        return _cost(node[1]) + 1
    return sum(_cost(c) for c in node[1])


@lru_cache(maxsize=65536)
def _ip(text: str):
    try:
        return ipaddress.ip_address(text.strip().strip("[]").split("%")[0])
    except ValueError:
        return None


@lru_cache(maxsize=None)
def _network(network: str):
    return ipaddress.ip_network(network, strict=False)


def _cidr_match(values: list, network: str) -> list[bool]:
    # Addresses repeat across rules and batches: each string is parsed once (_ip cache).
    net = _network(network)
    out = []
    for s in values:
        addr = _ip(s) if s is not None else None
        out.append(addr is not None and addr.version == net.version and addr in net)
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
