"""Loading Sigma rule files into compiled rules (parsing is pySigma's)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from .logsource import LogsourceFilter, logsource_filter
from .predicates import Node, Unsupported, compile_condition, leaves, make_or, validate_cidr


@dataclass(frozen=True, slots=True)
class RuleMeta:
    """What a match needs to say about its rule."""

    id: str
    title: str
    level: str | None
    tags: tuple[str, ...]
    logsource: dict[str, str | None]
    name: str | None = None
    path: str | None = None


@dataclass(frozen=True, slots=True)
class CompiledRule:
    meta: RuleMeta
    predicate: Node
    source: LogsourceFilter


@dataclass(frozen=True, slots=True)
class CompiledCorrelation:
    meta: RuleMeta
    kind: str  # event_count | value_count | temporal | temporal_ordered
    rule_ids: tuple[str, ...]  # referenced detection rules, in order
    group_by: tuple[str, ...]
    timespan: float  # seconds
    op: str | None  # gt gte lt lte eq neq
    count: int | None
    value_field: str | None
    aliases: Mapping[str, Mapping[str, str]]  # alias → {rule id → field}


@dataclass
class RuleSet:
    rules: list[CompiledRule] = field(default_factory=list)
    correlations: list[CompiledCorrelation] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def load(cls, paths: Iterable[Path | str], placeholders: Mapping[str, list[str]] | None = None) -> "RuleSet":
        """Load every *.yml/*.yaml under the given files or directories.

        A file pySigma cannot parse, or a rule this engine cannot evaluate, is listed in
        `skipped` as (path or rule id, reason) and the rest still loads.
        """
        files: list[Path] = []
        for p in map(Path, paths):
            if p.is_dir():
                files.extend(sorted(x for x in p.rglob("*") if x.suffix in (".yml", ".yaml") and x.is_file()))
            else:
                files.append(p)
        texts = [(f, f.read_text(encoding="utf-8", errors="replace")) for f in files]
        return cls.from_texts(texts, placeholders)

    @classmethod
    def from_yaml(cls, *documents: str, placeholders: Mapping[str, list[str]] | None = None) -> "RuleSet":
        return cls.from_texts([(f"<yaml {i}>", d) for i, d in enumerate(documents)], placeholders)

    @classmethod
    def from_texts(cls, texts, placeholders=None) -> "RuleSet":
        out = cls()
        collections = []
        where: dict[int, str] = {}
        for path, text in texts:
            try:
                coll = SigmaCollection.from_yaml(text, collect_errors=True)
            except (SigmaError, Exception) as exc:  # yaml errors are not SigmaErrors
                out.skipped.append((str(path), f"unparsable: {exc}"))
                continue
            per_rule = {str(e) for r in coll.rules for e in r.errors}
            for err in coll.errors:
                if str(err) not in per_rule:  # rule errors are reported with their rule below
                    out.skipped.append((str(path), f"{type(err).__name__}: {err}"))
            for r in coll.rules:
                where[id(r)] = str(path)
            collections.append(coll)
        merged = SigmaCollection.merge(collections) if collections else SigmaCollection([])
        try:
            merged.resolve_rule_references()
        except SigmaError as exc:
            # One broken correlation must not lose the other rules: resolve one by one.
            good = []
            for r in merged.rules:
                if isinstance(r, SigmaCorrelationRule):
                    try:
                        r.resolve_rule_references(merged)
                    except SigmaError as e:
                        out.skipped.append((where.get(id(r)) or str(r.id), f"correlation: {e}"))
                        continue
                good.append(r)
            merged = SigmaCollection(good)
        seen: set[str] = set()
        for r in merged.rules:
            path = where.get(id(r))
            rid = str(r.id) if r.id else (r.name or path or r.title)
            if r.errors:
                out.skipped.append((path or rid, "; ".join(str(e) for e in r.errors)))
                continue
            if rid in seen:
                out.skipped.append((path or rid, f"duplicate rule id {rid}"))
                continue
            meta = RuleMeta(
                id=rid,
                title=r.title,
                level=r.level.name.lower() if getattr(r, "level", None) else None,
                tags=tuple(str(t) for t in (getattr(r, "tags", None) or ())),
                logsource=_logsource_dict(r),
                name=getattr(r, "name", None),
                path=path,
            )
            try:
                if isinstance(r, SigmaCorrelationRule):
                    out.correlations.append(_compile_correlation(r, meta))
                elif isinstance(r, SigmaRule):
                    out.rules.append(_compile_rule(r, meta, placeholders or {}))
                else:
                    raise Unsupported(f"unknown rule type {type(r).__name__}")
            except (Unsupported, SigmaError, ValueError) as exc:
                out.skipped.append((path or rid, str(exc)))
                continue
            seen.add(rid)
        return out


def _logsource_dict(r) -> dict[str, str | None]:
    ls = getattr(r, "logsource", None)
    if ls is None:
        return {}
    return {"product": ls.product, "category": ls.category, "service": ls.service}


def _compile_rule(r: SigmaRule, meta: RuleMeta, placeholders) -> CompiledRule:
    predicate = make_or([compile_condition(c.parsed, placeholders) for c in r.detection.parsed_condition])
    for leaf in leaves(predicate):
        if leaf.kind == "cidr":
            validate_cidr(leaf.value)
    ls = r.logsource
    return CompiledRule(meta, predicate, logsource_filter(ls.product, ls.category, ls.service))


def _compile_correlation(r: SigmaCorrelationRule, meta: RuleMeta) -> CompiledCorrelation:
    kind = r.type.name.lower()
    rule_ids = []
    for ref in r.rules:
        target = ref.rule
        rule_ids.append(str(target.id) if getattr(target, "id", None) else target.name)
    cond = r.condition
    if cond is not None and not hasattr(cond, "op"):
        raise Unsupported("extended correlation conditions (boolean expressions) are not supported")
    op = cond.op.name.lower() if cond is not None and cond.op is not None else None
    count = cond.count if cond is not None else None
    value_field = cond.fieldref if cond is not None else None
    if isinstance(value_field, list):
        if len(value_field) != 1:
            raise Unsupported("value_count over several fields is not supported")
        value_field = value_field[0]
    if op in ("lt", "lte") and kind in ("event_count", "value_count"):
        # "fewer than N" is only decidable when a window closes, which a stream never signals.
        raise Unsupported(f"correlation condition {op} needs window-close semantics, not supported")
    if kind not in ("event_count", "value_count", "temporal", "temporal_ordered"):
        raise Unsupported(f"correlation type {kind} is not supported")
    aliases: dict[str, dict[str, str]] = {}
    for alias in (r.aliases.aliases.values() if r.aliases else ()):
        aliases[alias.alias] = {
            (str(ref.rule.id) if getattr(ref.rule, "id", None) else ref.rule.name): fld for ref, fld in alias.mapping.items()
        }
    return CompiledCorrelation(
        meta=meta,
        kind=kind,
        rule_ids=tuple(rule_ids),
        group_by=tuple(r.group_by or ()),
        timespan=float(r.timespan.seconds),
        op=op,
        count=count,
        value_field=value_field,
        aliases=aliases,
    )
