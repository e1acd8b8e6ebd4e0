"""Which rules the detection worker loads, and which report category a rule's matches count in.

Our own pack (``otasuke/telemetry/rules``, Sigma YAML) is always loaded; any
further directories of third-party Sigma rules come from
``OTASUKE_TELEMETRY_RULE_DIRS`` (separated by ``:``).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from otasuke.platform.settings import env

from ..detection import RuleSet
from ..detection.predicates import leaves
from ..domain.categories import ALL, SIGMA_LOGSOURCE_TO_EDR

log = logging.getLogger(__name__)

OWN_RULES = Path(__file__).resolve().parent.parent / "rules"
CATEGORY_TAG = "otasuke.category."
COMMAND_FIELDS = {"commandline", "parentcommandline", "scriptblocktext", "payload"}
TOOL_HINTS = ("hacktool", "mimikatz", "cobalt", "rubeus", "sharphound", "bloodhound", "impacket", "psexec",
              "procdump", "nirsoft", "lazagne", "netcat")


def rule_dirs() -> list[Path]:
    extra = [Path(p) for p in (env("TELEMETRY_RULE_DIRS", "") or "").split(os.pathsep) if p.strip()]
    return [OWN_RULES, *extra]


def load_rules(dirs: list[Path] | None = None) -> RuleSet:
    rules = RuleSet.load(dirs or rule_dirs())
    for what, why in rules.skipped[:20]:
        log.info("rule skipped: %s: %s", what, why)
    log.info("loaded %d rules (%d correlations), skipped %d", len(rules.rules), len(rules.correlations), len(rules.skipped))
    return rules


_FIELDS: dict[str, frozenset[str]] = {}


def _fields_of(rule) -> frozenset[str]:
    found = _FIELDS.get(rule.meta.id)
    if found is None:
        found = _FIELDS[rule.meta.id] = frozenset(
            (getattr(leaf, "field", None) or "").lower() for leaf in leaves(rule.predicate)
        )
    return found


def category_of(meta, compiled=None, event_category: str | None = None, kind: str = "edr") -> str:
    """Our tag first; then the UTM's own verdict; then what the rule looks at."""
    for tag in meta.tags:
        if tag.lower().startswith(CATEGORY_TAG):
            key = tag[len(CATEGORY_TAG):].lower()
            if key in ALL:
                return key
    if kind == "utm" and event_category in ALL:
        return event_category
    text = f"{meta.title} {meta.path or ''} {' '.join(meta.tags)}".lower()
    if any(h in text for h in TOOL_HINTS):
        return "tool_execution"
    logsource = (meta.logsource or {}).get("category") or ""
    if logsource == "process_creation" and compiled is not None and _fields_of(compiled) & COMMAND_FIELDS:
        return "command_execution"
    if logsource in SIGMA_LOGSOURCE_TO_EDR:
        return SIGMA_LOGSOURCE_TO_EDR[logsource]
    if event_category in ALL:
        return event_category
    return "suspicious_object" if kind == "utm" else "suspicious_process"
