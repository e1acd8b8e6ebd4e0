"""Sigma conditions compiled into a small predicate tree over table columns.

pySigma parses the YAML, the condition expression and the value modifiers; what comes
out of `rule.detection.parsed_condition[i].parsed` is a tree of AND/OR/NOT over
`ConditionFieldEqualsValueExpression` leaves whose values are already modified
(wildcards, regexes, CIDRs, expansions…). This module turns that tree into hashable
`Leaf`/`Node` tuples so identical predicates of different rules are the same object
(one evaluation, one literal in the prefilter).

Field names are compared case-insensitively (as a SQLite column name is in the
reference evaluation) and string values case-insensitively unless `|cased`.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Mapping

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

# A literal shorter than this is too common to narrow anything down in the prefilter.
MIN_LITERAL = 3


class Unsupported(Exception):
    """The rule uses something this engine cannot evaluate; it is skipped with this reason."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """One comparison on one field (field is lower-cased; None for keyword searches).

    kind: eq | contains | prefix | suffix | like        (on the lower-cased column)
          cased_eq | cased_like                           (on the original column)
          regex | cidr | cmp | exists | null | fieldref | keyword
    """

    kind: str
    field: str | None
    value: Any = None


# Inner nodes are plain tuples: ("and", children) / ("or", children) / ("not", child) /
# ("const", bool). Tuples of frozen dataclasses hash and compare by value, so structurally
# identical sub-trees of two rules are interned to one object.
Node = Any
TRUE: Node = ("const", True)
FALSE: Node = ("const", False)


_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(text: str) -> str:
    """ASCII case folding, the same as the columns get (pyarrow ascii_lower, SQLite NOCASE)."""
    return text.translate(_ASCII_FOLD)


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _string_leaf(field: str | None, value: SigmaString, placeholders: Mapping[str, list[str]]) -> Node:
    parts = list(value.s)
    if any(isinstance(p, Placeholder) for p in parts):
        return _expand_placeholders(field, parts, placeholders)
    cased = isinstance(value, SigmaCasedString)
    plain = [p for p in parts if isinstance(p, str)]
    specials = [p for p in parts if not isinstance(p, str)]
    text = "".join(plain)
    if field is None:
        pattern = "".join(like_escape(p) if isinstance(p, str) else ("%" if p is SpecialChars.WILDCARD_MULTI else "_") for p in parts)
        # A keyword is a substring search across all fields (Sigma spec: "keywords").
        return Leaf("keyword", None, fold("%" + pattern + "%"))
    if cased:
        if not specials:
            return Leaf("cased_eq", field, text)
        pattern = "".join(like_escape(p) if isinstance(p, str) else ("%" if p is SpecialChars.WILDCARD_MULTI else "_") for p in parts)
        return Leaf("cased_like", field, pattern)
    if not specials:
        return Leaf("eq", field, fold(text))
    multi = SpecialChars.WILDCARD_MULTI
    if all(s is multi for s in specials) and len(plain) == 1:
        if len(parts) == 3 and parts[0] is multi and parts[2] is multi:
            return Leaf("contains", field, fold(text))
        if len(parts) == 2 and parts[1] is multi:
            return Leaf("prefix", field, fold(text))
        if len(parts) == 2 and parts[0] is multi:
            return Leaf("suffix", field, fold(text))
    if all(s is multi for s in specials) and not plain:
        return Leaf("exists", field, True) if parts else Leaf("eq", field, "")
    pattern = "".join(like_escape(p) if isinstance(p, str) else ("%" if p is multi else "_") for p in parts)
    return Leaf("like", field, fold(pattern))


def _expand_placeholders(field: str | None, parts: list, placeholders: Mapping[str, list[str]]) -> Node:
    # |expand: every %name% is replaced by each of its configured values (OR).
    variants: list[list] = [[]]
    for part in parts:
        if isinstance(part, Placeholder):
            if part.name not in placeholders:
                raise Unsupported(f"placeholder %{part.name}% has no configured values")
            variants = [v + [val] for v in variants for val in placeholders[part.name]]
        else:
            variants = [v + [part] for v in variants]
    out = []
    for v in variants:
        s = SigmaString()
        s.s = [p for p in v if p != ""]
        out.append(_string_leaf(field, s, placeholders))
    return make_or(out)


def _regex_leaf(field: str | None, value: SigmaRegularExpression) -> Node:
    if field is None:
        raise Unsupported("regular expression without a field")
    flags = ""
    for flag in value.flags or ():
        flags += {SigmaRegularExpressionFlag.IGNORECASE: "i", SigmaRegularExpressionFlag.MULTILINE: "m", SigmaRegularExpressionFlag.DOTALL: "s"}[flag]
    pattern = value.regexp if isinstance(value.regexp, str) else value.regexp.to_plain()
    if flags:
        pattern = f"(?{''.join(sorted(flags))}){pattern}"
    return Leaf("regex", field, pattern)


def _leaf(item: ConditionFieldEqualsValueExpression | ConditionValueExpression, placeholders) -> Node:
    field = getattr(item, "field", None)
    field = field.lower() if field else None
    value = item.value
    if isinstance(value, SigmaExpansion):
        return make_or([_value_leaf(field, v, placeholders) for v in value.values])
    return _value_leaf(field, value, placeholders)


def _value_leaf(field: str | None, value: Any, placeholders) -> Node:
    if isinstance(value, SigmaExpansion):
        return make_or([_value_leaf(field, v, placeholders) for v in value.values])
    if isinstance(value, SigmaString):
        return _string_leaf(field, value, placeholders)
    if isinstance(value, SigmaRegularExpression):
        return _regex_leaf(field, value)
    if field is None:
        if isinstance(value, SigmaNumber):
            return Leaf("keyword", None, "%" + like_escape(str(value.number)) + "%")
        raise Unsupported(f"field-less value of type {type(value).__name__}")
    if isinstance(value, SigmaBool):
        return make_or([Leaf("eq", field, "true" if value.boolean else "false"), Leaf("eq", field, "1" if value.boolean else "0")])
    if isinstance(value, SigmaNumber):
        return Leaf("eq", field, fold(str(value.number)))
    if isinstance(value, SigmaNull):
        return Leaf("null", field)
    if isinstance(value, SigmaExists):
        return Leaf("exists", field, bool(value.exists))
    if isinstance(value, SigmaCIDRExpression):
        return Leaf("cidr", field, str(value.network))
    if isinstance(value, SigmaCompareExpression):
        op = {CompareOperators.LT: "lt", CompareOperators.LTE: "lte", CompareOperators.GT: "gt", CompareOperators.GTE: "gte"}.get(value.op)
        if op is None:
            op = "neq"
        return Leaf("cmp", field, (op, float(value.number.number)))
    if isinstance(value, SigmaFieldReference):
        mode = "contains" if (value.starts_with and value.ends_with) else "prefix" if value.starts_with else "suffix" if value.ends_with else "eq"
        return Leaf("fieldref", field, (value.field.lower(), mode))
    raise Unsupported(f"value type {type(value).__name__} is not supported")


def make_and(children: list[Node]) -> Node:
    flat: list[Node] = []
    for c in children:
        if c == TRUE:
            continue
        if c == FALSE:
            return FALSE
        if isinstance(c, tuple) and c[0] == "and":
            flat.extend(c[1])
        elif c not in flat:
            flat.append(c)
    if not flat:
        return TRUE
    return flat[0] if len(flat) == 1 else ("and", tuple(flat))


def make_or(children: list[Node]) -> Node:
    flat: list[Node] = []
    for c in children:
        if c == FALSE:
            continue
        if c == TRUE:
            return TRUE
        if isinstance(c, tuple) and c[0] == "or":
            flat.extend(c[1])
        elif c not in flat:
            flat.append(c)
    if not flat:
        return FALSE
    return flat[0] if len(flat) == 1 else ("or", tuple(flat))


def make_not(child: Node) -> Node:
    if child == TRUE:
        return FALSE
    if child == FALSE:
        return TRUE
    if isinstance(child, tuple) and child[0] == "not":
        return child[1]
    return ("not", child)


def compile_condition(cond: Any, placeholders: Mapping[str, list[str]] | None = None) -> Node:
    """pySigma parsed condition → predicate tree."""
    placeholders = placeholders or {}
    if isinstance(cond, ConditionAND):
        return make_and([compile_condition(a, placeholders) for a in cond.args])
    if isinstance(cond, ConditionOR):
        return make_or([compile_condition(a, placeholders) for a in cond.args])
    if isinstance(cond, ConditionNOT):
        return make_not(compile_condition(cond.args[0], placeholders))
    if isinstance(cond, (ConditionFieldEqualsValueExpression, ConditionValueExpression)):
        return _leaf(cond, placeholders)
    raise Unsupported(f"condition element {type(cond).__name__} is not supported")


def validate_cidr(network: str) -> None:
    ipaddress.ip_network(network, strict=False)


def leaves(node: Node):
    """Every leaf of a predicate tree."""
    if isinstance(node, Leaf):
        yield node
    elif node[0] in ("and", "or"):
        for c in node[1]:
            yield from leaves(c)
    elif node[0] == "not":
        yield from leaves(node[1])


# --- literal requirements, for the prefilter -------------------------------------------

def _like_literal(pattern: str) -> str:
    """Longest run of literal characters in a LIKE pattern."""
    best, cur, i = "", [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            cur.append(pattern[i + 1])
            i += 2
            continue
        if ch in "%_":
            if len(cur) > len(best):
                best = "".join(cur)
            cur = []
        else:
            cur.append(ch)
        i += 1
    if len(cur) > len(best):
        best = "".join(cur)
    return best


def regex_literals(pattern: str) -> frozenset[str] | None:
    """Lower-cased literals one of which any match of `pattern` must contain (None: unknown)."""
    try:
        import re._parser as sre_parse  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - Python < 3.11
        import sre_parse  # type: ignore[no-redef]
    from re._constants import BRANCH, LITERAL, SUBPATTERN  # type: ignore[import-not-found]

    def best(seq) -> frozenset[str] | None:
        runs, cur, out = [], [], None
        for op, arg in seq:
            if op is LITERAL:
                cur.append(chr(arg))
                continue
            runs.append("".join(cur))
            cur = []
            if op is BRANCH and len(seq) == 1:
                alts = [best(b) for b in arg[1]]
                if all(a for a in alts):
                    out = frozenset().union(*alts)
            elif op is SUBPATTERN and len(seq) == 1:
                out = best(arg[-1])
        runs.append("".join(cur))
        longest = max(runs, key=len)
        if len(longest) >= MIN_LITERAL and longest.isascii():
            return frozenset({fold(longest)})
        return out

    try:
        return best(sre_parse.parse(pattern))
    except Exception:
        return None
